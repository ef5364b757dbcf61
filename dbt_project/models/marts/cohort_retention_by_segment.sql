-- Cohorts by segment (METRICS.md "Cohorts"): cohort month x months since x country x signup platform x
-- acquisition channel (the customer's latest attributes, `unknown` when missing or erased, as
-- metrics_monthly_by_segment). Cohort = month of the customer's first paid day (first day with customer
-- MRR > 0); for k = 0 .. the as-of month, the customers paying (MRR > 0) at the end of month k (the
-- as-of date for the as-of month) and their MRR there (each month end at its day's rate). Customers,
-- not subscriptions: a customer's subscriptions (and currencies) are summed before counting; the MRR
-- intervals are joined to the month ends by range, no calendar x customer expansion. A customer belongs
-- to one cohort and one segment, so every column is additive: cohort_retention is the roll-up over
-- segments. No ratio is stored: a selection's logo retention is sum(active_customers) /
-- sum(cohort_customers) and its revenue retention sum(mrr) / sum(mrr_month0).
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

customers as (

    select * from {{ ref('int_customers') }}

),

first_paid as (

    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'min(valid_from)') }} as date) as cohort_month
    from intervals
    where mrr_local > 0
    group by customer_id

),

segmented as (

    select
        first_paid.customer_id,
        first_paid.cohort_month,
        coalesce(customers.segment_country, 'unknown') as country,
        coalesce(customers.segment_platform, 'unknown') as platform,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel
    from first_paid
    left join customers on first_paid.customer_id = customers.customer_id

),

cohorts as (

    select cohort_month, country, platform, acquisition_channel, count(*) as cohort_customers
    from segmented
    group by cohort_month, country, platform, acquisition_channel

),

customer_month_end_mrr as (

    select
        segmented.cohort_month,
        segmented.country,
        segmented.platform,
        segmented.acquisition_channel,
        months.month,
        intervals.customer_id,
        sum(intervals.mrr_local * fx.unit_rate) as mrr
    from intervals
    inner join segmented on intervals.customer_id = segmented.customer_id
    inner join months
        on months.month >= segmented.cohort_month
        and intervals.valid_from <= months.month_end
        and coalesce(intervals.valid_to, cast('9999-12-31' as date)) > months.month_end
    left join fx
        on intervals.currency = fx.currency
        and fx.rate_date = months.month_end
    where intervals.mrr_local > 0
    group by 1, 2, 3, 4, 5, 6

),

cohort_month_end as (

    select
        cohort_month,
        country,
        platform,
        acquisition_channel,
        month,
        count(*) as active_customers,
        sum(mrr) as mrr
    from customer_month_end_mrr
    where mrr > 0
    group by 1, 2, 3, 4, 5

),

grid as (

    select
        cohorts.cohort_month,
        cohorts.country,
        cohorts.platform,
        cohorts.acquisition_channel,
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
        grid.country,
        grid.platform,
        grid.acquisition_channel,
        cast(grid.cohort_customers as integer) as cohort_customers,
        cast(coalesce(cohort_month_end.active_customers, 0) as integer) as active_customers,
        cast(coalesce(cohort_month_end.mrr, 0) as decimal(38, 22)) as mrr
    from grid
    left join cohort_month_end
        on grid.cohort_month = cohort_month_end.cohort_month
        and grid.country = cohort_month_end.country
        and grid.platform = cohort_month_end.platform
        and grid.acquisition_channel = cohort_month_end.acquisition_channel
        and grid.month = cohort_month_end.month

),

final as (

    select
        cohort_month,
        months_since,
        month,
        country,
        platform,
        acquisition_channel,
        cohort_customers,
        active_customers,
        mrr,
        cast(first_value(mrr) over (
            partition by cohort_month, country, platform, acquisition_channel
            order by months_since
        ) as decimal(38, 22)) as mrr_month0
    from joined

)

select * from final
