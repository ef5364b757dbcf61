-- Month (of the first failure) x failure_code x provider: the payment recovery figures of
-- payment_recovery_monthly split by the first failure's code and provider; summing over codes and
-- providers gives payment_recovery_monthly. Only combinations with at least one failure.
with

failures as (

    select * from {{ ref('int_payment_failures') }}

),

final as (

    select
        failure_month as month,
        failure_code,
        provider,
        cast(count(*) as integer) as failed_renewals,
        cast(sum(case when is_recovered then 1 else 0 end) as integer) as recovered,
        cast(sum(case when is_recovered then 1 else 0 end) as double) / count(*) as recovery_rate,
        cast(sum(case when is_recovered then mrr else 0 end) as decimal(38, 22)) as recovered_mrr,
        cast(sum(mrr) as decimal(38, 22)) as failed_mrr,
        cast(sum(case when is_cancelled_during_dunning then 1 else 0 end) as integer) as cancelled_during_dunning,
        cast(sum(case when is_window_open then 1 else 0 end) as integer) as open_windows
    from failures
    group by 1, 2, 3

)

select * from final
