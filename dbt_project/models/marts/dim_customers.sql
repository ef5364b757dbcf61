-- One row per customer: latest attributes, cohort (month of the first paid day), status and MRR as
-- of the as-of date, and lifetime (net cash) revenue.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

changes as (

    select * from {{ ref('int_customer_mrr_changes') }}

),

intervals as (

    select * from {{ ref('int_customer_mrr_intervals') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

revenue as (

    select * from {{ ref('int_revenue_events') }}

),

first_paid as (

    select customer_id, min(change_date) as first_paid_date
    from changes
    where mrr_after > 0
    group by customer_id

),

current_levels as (

    select
        intervals.customer_id,
        sum(intervals.mrr_local * fx.unit_rate) as current_mrr,
        sum(intervals.live_subscriptions) as live_subscriptions,
        sum(intervals.paused_subscriptions) as paused_subscriptions,
        sum(intervals.trialing_subscriptions) as trialing_subscriptions
    from intervals
    cross join as_of
    left join fx
        on intervals.currency = fx.currency
        and fx.rate_date = as_of.as_of_date
    where intervals.valid_to is null
    group by intervals.customer_id

),

lifetime_revenue as (

    select
        customer_id,
        sum(case when revenue_type = 'payment' then amount
                 when revenue_type in ('refund', 'chargeback') then -amount
                 else 0 end) as lifetime_revenue
    from revenue
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.country,
        customers.signup_platform,
        customers.acquisition_channel,
        customers.created_at,
        customers.is_erased,
        cast({{ dbt.date_trunc('month', 'first_paid.first_paid_date') }} as date) as cohort_month,
        first_paid.first_paid_date,
        case
            when coalesce(current_levels.current_mrr, 0) > 0 then 'active'
            when coalesce(current_levels.paused_subscriptions, 0) > 0 then 'paused'
            when coalesce(current_levels.trialing_subscriptions, 0) > 0 then 'trialing'
            when coalesce(current_levels.live_subscriptions, 0) > 0 then 'active'
            when first_paid.first_paid_date is not null then 'churned'
            else 'never_paid'
        end as status,
        cast(coalesce(current_levels.current_mrr, 0) as decimal(38, 22)) as current_mrr,
        cast(coalesce(lifetime_revenue.lifetime_revenue, 0) as decimal(38, 16)) as lifetime_revenue
    from customers
    left join first_paid on customers.customer_id = first_paid.customer_id
    left join current_levels on customers.customer_id = current_levels.customer_id
    left join lifetime_revenue on customers.customer_id = lifetime_revenue.customer_id

)

select * from final
