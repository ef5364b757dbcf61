{{ config(materialized='incremental', incremental_strategy='append') }}
with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'engagement.activity'
    {{ new_events_only() }}

),

renamed as (

    select
        event_id,
        occurred_at,
        loaded_at,
        source as event_source,
        customer_id,
        {{ to_utc_timestamp(json_text('data', 'period_start')) }} as period_start,
        {{ to_utc_timestamp(json_text('data', 'period_end')) }} as period_end,
        cast({{ json_text('data', 'minutes_watched') }} as decimal(18, 2)) as minutes_watched,
        cast({{ json_text('data', 'sessions') }} as integer) as sessions,
        {{ json_text('data', 'platform') }} as platform

    from source

),

final as (

    select * from renamed

)

select * from final
