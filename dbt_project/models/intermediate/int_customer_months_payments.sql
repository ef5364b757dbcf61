-- Customer x month end (int_months) with a failed payment or a recovered renewal in the 90 days up
-- to month_end: failed payment events (every attempt) in (month_end - 30 d, month_end] and
-- (month_end - 90 d, month_end], failed renewals whose successful payment occurred in the 90 days.
-- Read by customer_months (zero where a customer-month has no row here).
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (build_scopes(),
-- macros/changed_customers.sql).
{{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

),

failed_payments as (

    select * from {{ ref('stg_events__payments') }}
    where payment_event = 'failed'
      {{ customers_in_scope(scope, 'customer_id') }}
      {{ recent_rows_only(scope, 'occurred_at', 91) }}

),

recoveries as (

    select * from {{ ref('int_payment_failures') }}
    where is_recovered
      {{ customers_in_scope(scope, 'customer_id') }}
      {{ recent_rows_only(scope, 'recovered_at', 91) }}

),

failed_payment_counts as (

    select
        failed_payments.customer_id,
        months.month,
        sum(case when cast(failed_payments.occurred_at as date) > {{ dbt.dateadd('day', -30, 'months.month_end') }} then 1 else 0 end)
            as failed_payments_30d,
        count(*) as failed_payments_90d
    from failed_payments
    inner join months
        on cast(failed_payments.occurred_at as date) <= months.month_end
        and cast(failed_payments.occurred_at as date) > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    group by failed_payments.customer_id, months.month

),

recovery_counts as (

    select
        recoveries.customer_id,
        months.month,
        count(*) as recovered_payments_90d
    from recoveries
    inner join months
        on cast(recoveries.recovered_at as date) <= months.month_end
        and cast(recoveries.recovered_at as date) > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    group by recoveries.customer_id, months.month

),

final as (

    select
        customer_id,
        month,
        failed_payment_counts.failed_payments_30d,
        failed_payment_counts.failed_payments_90d,
        recovery_counts.recovered_payments_90d
    from failed_payment_counts
    full outer join recovery_counts using (customer_id, month)

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
