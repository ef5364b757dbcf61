{{ config(materialized='incremental', incremental_strategy='append', post_hook="{{ record_build_state(fingerprint=false) }}") }}
with

source as (

    select *, {{ json_columns('data', ['coupon_id', 'campaign_id', 'subscription_id', 'discount_type', 'discount_value', 'duration']) }}
    from {{ source('raw', 'events') }}
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
        coupon_id,
        campaign_id,
        subscription_id,
        discount_type,
        cast(discount_value as decimal(18, 4)) as discount_value,
        duration

    from source

),

final as (

    select * from renamed

)

select * from final
