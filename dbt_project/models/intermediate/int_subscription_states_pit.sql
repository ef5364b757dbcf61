-- Point-in-time twin of int_subscription_states for the leakage-free customer_months: the `known`
-- timeline of int_subscription_timelines, where subscription.changed / subscription.renewed take effect
-- at greatest(effective_at / period_start, occurred_at), so the state on date D is built only from events
-- that occurred by the end of D (a backdated change counts from the day it became known).
{{ incremental_by_customer() }}
with

timelines as (

    select * from {{ ref('int_subscription_timelines') }}
    where timeline = 'known' {{ changed_customers_only('customer_id') }}

),

final as (

    select
        subscription_id, customer_id, valid_from, valid_to, offer_id, platform, currency, billing_period,
        price_minor, discount_minor, is_live, is_paused, is_trial, mrr_local, trial_mrr_local,
        monthly_amount_local,
        -- history that customer_months needs for its as-of month, kept here so that it does not
        -- re-read every customer's whole history each day (this table is rebuilt by customer)
        min(valid_from) over (partition by subscription_id) as subscription_started_on,
        lag(monthly_amount_local) over by_subscription as previous_monthly_amount_local,
        lag(currency) over by_subscription as previous_currency,
        min(case when is_live then valid_from end) over (partition by customer_id) as customer_first_live_on,
        min(case when is_live and not is_paused and not is_trial and monthly_amount_local > 0 then valid_from end)
            over (partition by customer_id) as customer_first_paid_on
    from timelines
    window by_subscription as (partition by subscription_id order by valid_from)

)

select * from final
