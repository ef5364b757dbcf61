{{ config(materialized='incremental', incremental_strategy='append') }}
-- support.ticket_opened / support.ticket_resolved.
with

source as (

    select * from {{ source('raw', 'events') }}
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
        {{ json_text('data', 'ticket_id') }} as ticket_id,
        {{ json_text('data', 'channel') }} as channel,
        {{ json_text('data', 'category') }} as category,
        {{ json_text('data', 'priority') }} as priority,
        cast({{ json_text('data', 'resolution_minutes') }} as integer) as resolution_minutes,
        cast({{ json_text('data', 'csat') }} as integer) as csat

    from source

),

final as (

    select * from renamed

)

select * from final
