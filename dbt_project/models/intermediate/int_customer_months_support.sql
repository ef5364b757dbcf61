-- Customer x month end (int_months) with a support ticket opened in the 90 days up to month_end or
-- a CSAT known by month_end: tickets opened in (month_end - 30 d, month_end] and (month_end - 90 d,
-- month_end], by category, and the CSAT of the latest resolved ticket with one, valid from the day
-- it was resolved until the next one. Read by customer_months (zero tickets / no CSAT where a
-- customer-month has no row here).
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (build_scopes(),
-- macros/changed_customers.sql); tickets and CSAT only look back, so a support event dated in the
-- as-of month does not make its customer's earlier months rebuilt.
{{ incremental_by_customer(
    rebuild_recent={'column': 'month', 'days': 0, 'forward_families': ['support']},
) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

),

support as (

    select * from {{ ref('stg_events__support') }}
    where true {{ customers_in_scope(scope, 'customer_id') }}

),

ticket_counts as (

    select
        support.customer_id,
        months.month,
        sum(case when cast(support.occurred_at as date) > {{ dbt.dateadd('day', -30, 'months.month_end') }} then 1 else 0 end)
            as tickets_30d,
        count(*) as tickets_90d,
        {% for window in [30, 90] -%}
        {% for category in ['billing', 'technical'] -%}
        sum(case when cast(support.occurred_at as date) > {{ dbt.dateadd('day', -window, 'months.month_end') }}
                  and support.category = '{{ category }}' then 1 else 0 end) as {{ category }}_tickets_{{ window }}d{{ ',' if not loop.last }}
        {% endfor -%}{{ ',' if not loop.last }}
        {% endfor %}
    from support
    inner join months
        on cast(support.occurred_at as date) <= months.month_end
        and cast(support.occurred_at as date) > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    where support.event_type = 'support.ticket_opened'
      {{ recent_rows_only(scope, 'support.occurred_at', 91) }}
    group by support.customer_id, months.month

),

-- the latest CSAT known, valid from its day until the next one
csat_ranges as (

    select
        customer_id,
        csat,
        resolved_on,
        lead(resolved_on) over (partition by customer_id order by resolved_on) as next_resolved_on
    from (
        select
            customer_id,
            cast(occurred_at as date) as resolved_on,
            csat,
            row_number() over (
                partition by customer_id, cast(occurred_at as date) order by occurred_at desc, event_id desc
            ) as rank_in_day
        from support
        where event_type = 'support.ticket_resolved'
          and csat is not null
    ) as daily
    where rank_in_day = 1

),

latest_csat as (

    select csat_ranges.customer_id, months.month, csat_ranges.csat as last_csat
    from csat_ranges
    inner join months
        on csat_ranges.resolved_on <= months.month_end
        and coalesce(csat_ranges.next_resolved_on, cast('9999-12-31' as date)) > months.month_end

),

final as (

    select
        customer_id,
        month,
        ticket_counts.tickets_30d,
        ticket_counts.tickets_90d,
        {% for window in [30, 90] -%}
        {% for category in ['billing', 'technical'] -%}
        ticket_counts.{{ category }}_tickets_{{ window }}d,
        {% endfor -%}
        {% endfor -%}
        latest_csat.last_csat
    from ticket_counts
    full outer join latest_csat using (customer_id, month)

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
