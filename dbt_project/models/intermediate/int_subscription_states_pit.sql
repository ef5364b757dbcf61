{{ incremental_by_customer() }}
-- Point-in-time twin of int_subscription_states for the leakage-free customer_months: the same
-- states, except that subscription.changed / subscription.renewed take effect at
-- greatest(effective_at / period_start, occurred_at), so the state on date D is built only from events
-- that occurred by the end of D (a backdated change counts from the day it became known).
{{ subscription_states(point_in_time=true) }}
