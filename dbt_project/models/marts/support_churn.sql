-- One row per month (int_months; the first has nobody at risk): among the customers paying at the start of the
-- month (MRR > 0 at the end of the previous month), the customer churn rate of those who opened a
-- support ticket in the 30 days before the month started (previous month end - 29 days .. previous
-- month end) vs those who did not. Churned = a `churn` movement in the month (as churned_from_start in
-- metrics_monthly); the two groups add up to metrics_monthly.paying_customers_at_start.
with

months as (

    select * from {{ ref('int_months') }}

),

month_ends as (

    select * from {{ ref('int_customer_month_ends') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

tickets as (

    select customer_id, cast(occurred_at as date) as opened_on
    from {{ ref('stg_events__support') }}
    where event_type = 'support.ticket_opened'

),

at_risk as (

    select
        months.month,
        months.previous_month_end,
        month_ends.customer_id
    from months
    inner join month_ends
        on month_ends.month_end = months.previous_month_end
        and month_ends.mrr > 0

),

with_ticket as (

    select distinct at_risk.month, at_risk.customer_id
    from at_risk
    inner join tickets
        on at_risk.customer_id = tickets.customer_id
        and tickets.opened_on <= at_risk.previous_month_end
        and tickets.opened_on > {{ dbt.dateadd('day', -30, 'at_risk.previous_month_end') }}

),

churned as (

    select distinct
        cast({{ dbt.date_trunc('month', 'movement_date') }} as date) as month,
        customer_id
    from movements
    where movement_type = 'churn'

),

flagged as (

    select
        at_risk.month,
        with_ticket.customer_id is not null as had_ticket,
        churned.customer_id is not null as is_churned
    from at_risk
    left join with_ticket
        on at_risk.month = with_ticket.month
        and at_risk.customer_id = with_ticket.customer_id
    left join churned
        on at_risk.month = churned.month
        and at_risk.customer_id = churned.customer_id

),

counted as (

    select
        months.month,
        sum(case when flagged.had_ticket then 1 else 0 end) as customers_with_ticket,
        sum(case when flagged.had_ticket and flagged.is_churned then 1 else 0 end) as churned_with_ticket,
        sum(case when not flagged.had_ticket then 1 else 0 end) as customers_without_ticket,
        sum(case when not flagged.had_ticket and flagged.is_churned then 1 else 0 end) as churned_without_ticket
    from months
    left join flagged on months.month = flagged.month
    group by months.month

),

final as (

    select
        month,
        cast(coalesce(customers_with_ticket, 0) as integer) as customers_with_ticket,
        cast(coalesce(churned_with_ticket, 0) as integer) as churned_with_ticket,
        cast(churned_with_ticket as double) / nullif(customers_with_ticket, 0) as churn_rate_with_ticket,
        cast(coalesce(customers_without_ticket, 0) as integer) as customers_without_ticket,
        cast(coalesce(churned_without_ticket, 0) as integer) as churned_without_ticket,
        cast(churned_without_ticket as double) / nullif(customers_without_ticket, 0) as churn_rate_without_ticket,
        (cast(churned_with_ticket as double) / nullif(customers_with_ticket, 0))
            / nullif(cast(churned_without_ticket as double) / nullif(customers_without_ticket, 0), 0)
            as relative_churn_risk
    from counted

)

select * from final
