-- Carriers report a return parcel by its return label's tracking number: find the order and the
-- return from its ReturnLabelCreated event, as outgoing parcels are found from ShipmentCreated.
CREATE INDEX events_return_tracking_number ON events ((data ->> 'tracking_number'))
    WHERE event_type = 'ReturnLabelCreated';
