-- One row: the as-of date every "current" figure uses (METRICS.md "As-of date"), the first event
-- date (start of every series) and the reporting currency.
with

events as (

    select
        min(occurred_at) as first_event_at,
        max(occurred_at) as watermark_at
    from {{ source('raw', 'events') }}

),

final as (

    select
        cast(first_event_at as date) as first_event_date,
        watermark_at,
        {% if var('as_of') is not none -%}
        cast('{{ var("as_of") }}' as date) as as_of_date,
        {%- else -%}
        cast(watermark_at as date) as as_of_date,
        {%- endif %}
        cast('{{ var("reporting_currency") }}' as varchar) as reporting_currency
    from events

)

select * from final
