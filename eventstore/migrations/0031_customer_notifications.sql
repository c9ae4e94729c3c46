-- Customer notifications follow the global feed with a checkpoint (as a projection does). They
-- start at the head: events recorded before this feature were notified by the saga itself.
INSERT INTO projection_checkpoints (name, position)
SELECT 'customer_notifications', coalesce(max(global_position), 0) FROM events
ON CONFLICT (name) DO NOTHING;
