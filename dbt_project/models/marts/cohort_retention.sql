-- Cohort month x months since (METRICS.md "Cohorts"): cohort_retention_by_segment summed over the
-- segments (every customer belongs to one cohort and one segment, so its counts and MRR are additive),
-- with the retention ratios. Cohort = month of the customer's first paid day (first day with customer
-- MRR > 0, as dim_customers.cohort_month); for k = 0 .. the as-of month, the cohort's customers paying
-- (MRR > 0) at the end of month k (the as-of date for the as-of month) and their MRR there (each month
-- end at its day's rate).
with

by_segment as (

    select * from {{ ref('cohort_retention_by_segment') }}

),

rolled_up as (

    select
        cohort_month,
        months_since,
        month,
        cast(sum(cohort_customers) as integer) as cohort_customers,
        cast(sum(active_customers) as integer) as active_customers,
        cast(sum(mrr) as decimal(38, 22)) as mrr
    from by_segment
    group by cohort_month, months_since, month

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
    from rolled_up

)

select * from final
