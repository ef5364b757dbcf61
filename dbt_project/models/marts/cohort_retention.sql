-- Cohort month x months since (METRICS.md "Cohorts"). Cohort = month of the customer's first paid day
-- (first day with customer MRR > 0, as dim_customers.cohort_month). For k = 0 .. the as-of month, the
-- cohort's customers paying (MRR > 0) at the end of month k (the as-of date for the as-of month) and
-- their MRR there (each month end at its day's rate). Customers, not subscriptions: a customer's
-- subscriptions (and currencies) are summed before counting. The customer MRR intervals are joined to
-- the month ends by range; no calendar x customer expansion.
with

months as (

    select * from {{ ref('int_months') }}

),

intervals as (

    select * from {{ ref('int_customer_mrr_intervals') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

first_paid as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'min(valid_from)') }} as date) as cohort_month
    from intervals
    where mrr_local > 0
    group by customer_id

),

cohorts as (

    select cohort_month, count(*) as cohort_customers
    from first_paid
    group by cohort_month

),

customer_month_end_mrr as (

    select
        first_paid.cohort_month,
        months.month,
        intervals.customer_id,
        sum(intervals.mrr_local * fx.unit_rate) as mrr
    from intervals
    inner join first_paid on intervals.customer_id = first_paid.customer_id
    inner join months
        on months.month >= first_paid.cohort_month
        and intervals.valid_from <= months.month_end
        and coalesce(intervals.valid_to, cast('9999-12-31' as date)) > months.month_end
    left join fx
        on intervals.currency = fx.currency
        and fx.rate_date = months.month_end
    where intervals.mrr_local > 0
    group by 1, 2, 3

),

cohort_month_end as (

    select
        cohort_month,
        month,
        count(*) as active_customers,
        sum(mrr) as mrr
    from customer_month_end_mrr
    where mrr > 0
    group by cohort_month, month

),

grid as (

    select
        cohorts.cohort_month,
        months.month,
        cast({{ dbt.datediff('cohorts.cohort_month', 'months.month', 'month') }} as integer) as months_since,
        cohorts.cohort_customers
    from cohorts
    inner join months on months.month >= cohorts.cohort_month

),

joined as (

    select
        grid.cohort_month,
        grid.months_since,
        grid.month,
        cast(grid.cohort_customers as integer) as cohort_customers,
        cast(coalesce(cohort_month_end.active_customers, 0) as integer) as active_customers,
        cast(coalesce(cohort_month_end.mrr, 0) as decimal(38, 22)) as mrr
    from grid
    left join cohort_month_end
        on grid.cohort_month = cohort_month_end.cohort_month
        and grid.month = cohort_month_end.month

),

final as (

    select
        cohort_month,
        months_since,
        month,
        cohort_customers,
        active_customers,
        cast(active_customers as double) / cohort_customers as logo_retention,
        mrr,
        cast(mrr as double) / nullif(cast(first_value(mrr) over (
            partition by cohort_month order by months_since
        ) as double), 0) as revenue_retention
    from joined

)

select * from final
