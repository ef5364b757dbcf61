-- Customer x month end (int_months) with engagement reported in the 8 calendar weeks (Monday-based)
-- ending with the week of month_end: minutes and sessions of the last 4 weeks and minutes of the 4
-- before. No leakage: int_customer_engagement_weekly is keyed by the week AND month of occurred_at,
-- so the week rows of months <= the row's month hold exactly the activity reported by month_end.
-- Read by customer_months (zero where a customer-month has no row here).
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (build_scopes(),
-- macros/changed_customers.sql); engagement only looks back, so a report dated in the as-of month
-- does not make its customer's earlier months rebuilt.
{{ incremental_by_customer(
    rebuild_recent={'column': 'month', 'days': 0, 'forward_families': ['engagement']},
) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

),

weekly as (

    select * from {{ ref('int_customer_engagement_weekly') }}
    where true {{ customers_in_scope(scope, 'customer_id') }}
      {{ recent_rows_only(scope, 'week_start', 56) }}

),

final as (

    select
        weekly.customer_id,
        months.month,
        sum(case when weekly.week_start >= {{ dbt.dateadd('day', -21, dbt.date_trunc('week', 'months.month_end')) }}
                 then weekly.minutes_watched else 0 end) as minutes_watched_4w,
        sum(case when weekly.week_start < {{ dbt.dateadd('day', -21, dbt.date_trunc('week', 'months.month_end')) }}
                 then weekly.minutes_watched else 0 end) as minutes_watched_prev_4w,
        sum(case when weekly.week_start >= {{ dbt.dateadd('day', -21, dbt.date_trunc('week', 'months.month_end')) }}
                 then weekly.sessions else 0 end) as sessions_4w
    from weekly
    -- a week row can only count for the month ends of its month and the two after it: an equi-join
    -- on those candidate months instead of a range join of the large weekly table to every month
    cross join (select 0 as n union all select 1 union all select 2) as offsets
    inner join months
        on months.month = cast({{ dbt.dateadd('month', 'offsets.n', 'weekly.month') }} as date)
    where weekly.week_start <= {{ dbt.date_trunc('week', 'months.month_end') }}
      and weekly.week_start >= {{ dbt.dateadd('day', -49, dbt.date_trunc('week', 'months.month_end')) }}
    group by weekly.customer_id, months.month

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
