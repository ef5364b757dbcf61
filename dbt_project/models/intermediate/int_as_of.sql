-- One row: the as-of date every "current" figure uses (METRICS.md "As-of date"), the first event
-- date (start of every series) and the reporting currency. The watermark is the latest event
-- loaded, or the moment of the latest complete provider backfill when that is later: the
-- provider's account was read whole then, so nothing it did not report happened in between
-- (a trial that ended since the last event is paying on the backfill's day, as the provider says).
with

events as (

    select
        min(occurred_at) as first_event_at,
        max(occurred_at) as watermark_at
    from {{ source('raw', 'events') }}

),

provider_backfills as (

    select max(as_of) as read_whole_at
    from {{ source('raw', 'provider_views') }}

),

watermark as (

    select
        first_event_at,
        case
            when read_whole_at > watermark_at then read_whole_at else watermark_at
        end as watermark_at
    from events
    cross join provider_backfills

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
    from watermark

)

select * from final
