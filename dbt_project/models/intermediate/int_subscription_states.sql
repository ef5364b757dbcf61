{{ incremental_by_customer() }}
-- Subscription x [valid_from, valid_to) at DATE grain of constant state, built from change points:
--   started   (occurred_at)          live, price / discount / currency / period / offer, in trial if
--                                    trial_ends_at falls on a later date
--   trial end (trial_ends_at)        paying from that date
--   changed   (effective_at)         new offer / price / discount / currency / period
--   renewed   (period_start)         price / discount / currency
--   paused / resumed (occurred_at)   MRR 0 while paused
--   ended     (occurred_at)          access ends: not live on that date
-- cancelled / reactivated have no MRR effect (a pending cancellation is scheduled churn only).
-- Several change points on one date: the state at the end of the day wins. Order is
-- (effective timestamp, occurred_at, event_id), so the result does not depend on arrival order.
-- Change points after the as-of date are ignored; valid_to is null for the open interval.
-- The SQL is the macro subscription_states (shared with int_subscription_states_pit).
{{ subscription_states(point_in_time=false) }}
