{{ config(materialized='incremental', incremental_strategy='append') }}
with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'retention.action_taken'
    {{ new_events_only() }}

),

renamed as (

    select
        event_id,
        occurred_at as action_at,
        loaded_at,
        source as event_source,
        customer_id,
        {{ json_text('data', 'campaign_id') }} as campaign_id,
        {{ json_text('data', 'action') }} as action,
        {{ json_text('data', 'group') }} as experiment_group,
        {{ json_text('data', 'coupon_id') }} as coupon_id

    from source

),

final as (

    select * from renamed

)

select * from final
