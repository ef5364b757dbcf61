-- Month of effective_at of the pending cancellations (scheduled_churn): subscriptions, customers and
-- MRR at stake that are scheduled to leave. A pending cancellation whose effective_at is already past
-- (the end has not been reported yet) stays in its own month; a missing effective_at is `null` month.
with

scheduled as (

    select * from {{ ref('scheduled_churn') }}

),

final as (

    select
        cast({{ dbt.date_trunc('month', 'effective_at') }} as date) as month,
        cast(count(*) as integer) as subscriptions,
        cast(count(distinct customer_id) as integer) as customers,
        cast(count(distinct case when is_last_live_subscription then customer_id end) as integer) as churning_customers,
        cast(sum(mrr_at_stake) as decimal(38, 22)) as mrr_at_stake
    from scheduled
    group by 1

)

select * from final
