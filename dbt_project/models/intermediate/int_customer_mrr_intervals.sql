{{ incremental_by_customer() }}
-- Customer x currency x [valid_from, valid_to): the customer's local MRR level (minor units,
-- decimal(38,6)), trial MRR level and counts of live / paused / trialing subscriptions in that
-- currency, constant within the interval. Built from the subscription intervals as +state at
-- valid_from / -state at valid_to, summed and accumulated per customer and currency.
-- An interval whose levels are all zero marks that the customer has nothing (left) in the currency.
with

subscription_states as (

    select * from {{ ref('int_subscription_states') }}
    where true {{ changed_customers_only('customer_id') }}

),

signed_states as (

    select
        customer_id,
        currency,
        valid_from as change_date,
        mrr_local,
        trial_mrr_local,
        case when is_live then 1 else 0 end as live_subscriptions,
        case when is_paused then 1 else 0 end as paused_subscriptions,
        case when is_trial and not is_paused then 1 else 0 end as trialing_subscriptions
    from subscription_states

    union all

    select
        customer_id,
        currency,
        valid_to as change_date,
        -mrr_local,
        -trial_mrr_local,
        case when is_live then -1 else 0 end,
        case when is_paused then -1 else 0 end,
        case when is_trial and not is_paused then -1 else 0 end
    from subscription_states
    where valid_to is not null

),

deltas as (

    select
        customer_id,
        currency,
        change_date,
        sum(mrr_local) as mrr_local,
        sum(trial_mrr_local) as trial_mrr_local,
        sum(live_subscriptions) as live_subscriptions,
        sum(paused_subscriptions) as paused_subscriptions,
        sum(trialing_subscriptions) as trialing_subscriptions
    from signed_states
    group by customer_id, currency, change_date

),

changes as (

    select * from deltas
    where mrr_local <> 0
       or trial_mrr_local <> 0
       or live_subscriptions <> 0
       or paused_subscriptions <> 0
       or trialing_subscriptions <> 0

),

levels as (

    select
        customer_id,
        currency,
        change_date as valid_from,
        lead(change_date) over customer_currency as valid_to,
        cast(sum(mrr_local) over running as decimal(38, 6)) as mrr_local,
        cast(sum(trial_mrr_local) over running as decimal(38, 6)) as trial_mrr_local,
        cast(sum(live_subscriptions) over running as integer) as live_subscriptions,
        cast(sum(paused_subscriptions) over running as integer) as paused_subscriptions,
        cast(sum(trialing_subscriptions) over running as integer) as trialing_subscriptions
    from changes
    window
        customer_currency as (partition by customer_id, currency order by change_date),
        running as (
            partition by customer_id, currency order by change_date
            rows between unbounded preceding and current row
        )

),

final as (

    select * from levels

)

select * from final
