{{ config(materialized='incremental', incremental_strategy='append', post_hook="{{ record_build_state(fingerprint=false) }}") }}
with

source as (

    select *, {{ json_columns('data', ['campaign_id', 'action', 'group', 'coupon_id']) }}
    from {{ source('raw', 'events') }}
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
        campaign_id,
        action,
        "group" as experiment_group,
        coupon_id

    from source

),

final as (

    select * from renamed

)

select * from final
