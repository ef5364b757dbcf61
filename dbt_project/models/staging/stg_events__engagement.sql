-- A view, unlike the other big families: its only reader (int_customer_engagement_weekly) is
-- incremental by customer, and DuckDB pushes that customer filter below the JSON parse, so a
-- 30M-row copy of the raw rows would cost more to write than it saves.
{{ config(materialized='view') }}
with

source as (

    select *, {{ json_columns('data', ['period_start', 'period_end', 'minutes_watched', 'sessions', 'platform']) }}
    from {{ source('raw', 'events') }}
    where event_type = 'engagement.activity'

),

renamed as (

    select
        event_id,
        occurred_at,
        loaded_at,
        source as event_source,
        customer_id,
        {{ to_utc_timestamp('period_start') }} as period_start,
        {{ to_utc_timestamp('period_end') }} as period_end,
        cast(minutes_watched as decimal(18, 2)) as minutes_watched,
        cast(sessions as integer) as sessions,
        platform

    from source

),

final as (

    select * from renamed

)

select * from final
