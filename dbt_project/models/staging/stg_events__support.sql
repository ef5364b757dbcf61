{{ config(materialized='incremental', incremental_strategy='append', post_hook="{{ record_build_state(fingerprint=false) }}") }}
-- support.ticket_opened / support.ticket_resolved.
with

source as (

    select *, {{ json_columns('data', ['ticket_id', 'channel', 'category', 'priority', 'resolution_minutes', 'csat']) }}
    from {{ source('raw', 'events') }}
    where event_type like 'support.%'
    {{ new_events_only() }}

),

renamed as (

    select
        event_id,
        event_type,
        occurred_at,
        loaded_at,
        source as event_source,
        customer_id,
        ticket_id,
        channel,
        category,
        priority,
        cast(resolution_minutes as integer) as resolution_minutes,
        cast(csat as integer) as csat

    from source

),

final as (

    select * from renamed

)

select * from final
