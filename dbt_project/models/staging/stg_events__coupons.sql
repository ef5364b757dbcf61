{{ config(materialized='incremental', incremental_strategy='append') }}
with

source as (

    select * from {{ source('raw', 'events') }}
    where event_type = 'coupon.redeemed'
    {{ new_events_only() }}

),

renamed as (

    select
        event_id,
        occurred_at as redeemed_at,
        loaded_at,
        source as event_source,
        customer_id,
        {{ json_text('data', 'coupon_id') }} as coupon_id,
        {{ json_text('data', 'campaign_id') }} as campaign_id,
        {{ json_text('data', 'subscription_id') }} as subscription_id,
        {{ json_text('data', 'discount_type') }} as discount_type,
        cast({{ json_text('data', 'discount_value') }} as decimal(18, 4)) as discount_value,
        {{ json_text('data', 'duration') }} as duration

    from source

),

final as (

    select * from renamed

)

select * from final
