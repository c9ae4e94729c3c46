-- The PaymentIntent behind each Stripe call of an order, by the call's idempotency key. A row is
-- written before the call that may create or capture one (payment_intent_id NULL until Stripe
-- names it), and an authorization is confirmed only once its PaymentIntent is noted here: an
-- in-doubt payment step is always found, even on a server that ignores Idempotency-Key.
CREATE TABLE stripe_payment_intents (
    idempotency_key   text        PRIMARY KEY,
    order_id          text        NOT NULL,
    payment_intent_id text,
    noted_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_payment_intents_by_order ON stripe_payment_intents (order_id);
