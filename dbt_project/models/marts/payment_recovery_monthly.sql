-- One row per month (of the first failure) from the first event month to the as-of month
-- (METRICS.md "Payment recovery"). See int_payment_failures for the rules.
with

months as (

    select * from {{ ref('int_months') }}

),

failures as (

    select * from {{ ref('int_payment_failures') }}

),

monthly as (

    select
        failure_month as month,
        count(*) as failed_renewals,
        sum(case when is_recovered then 1 else 0 end) as recovered,
        sum(case when is_cancelled_during_dunning then 1 else 0 end) as cancelled_during_dunning,
        sum(case when is_window_open then 1 else 0 end) as open_windows,
        sum(mrr) as failed_mrr,
        sum(case when is_recovered then mrr else 0 end) as recovered_mrr
    from failures
    group by failure_month

),

final as (

    select
        months.month,
        cast(coalesce(monthly.failed_renewals, 0) as integer) as failed_renewals,
        cast(coalesce(monthly.recovered, 0) as integer) as recovered,
        cast(monthly.recovered as double) / nullif(monthly.failed_renewals, 0) as recovery_rate,
        cast(coalesce(monthly.recovered_mrr, 0) as decimal(38, 22)) as recovered_mrr,
        cast(coalesce(monthly.failed_mrr, 0) as decimal(38, 22)) as failed_mrr,
        cast(coalesce(monthly.cancelled_during_dunning, 0) as integer) as cancelled_during_dunning,
        cast(coalesce(monthly.open_windows, 0) as integer) as open_windows
    from months
    left join monthly on months.month = monthly.month

)

select * from final
