{{ config(materialized='incremental', incremental_strategy='append', post_hook="{{ record_build_state(fingerprint=false) }}") }}
-- Every subscription.* event, payload fields extracted and typed (timestamps naive UTC).
with

source as (

    select *, {{ json_columns('data', ['subscription_id', 'offer_id', 'platform', 'price_minor', 'discount_minor', 'currency', 'billing_period', 'coupon_id', 'trial_ends_at', 'current_period_end', 'period_start', 'period_end', 'effective_at', 'reason', 'initiated_by', 'resume_at', 'ended_reason']) }}
    from {{ source('raw', 'events') }}
    where event_type like 'subscription.%'
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
        subscription_id,
        offer_id,
        platform,
        cast(price_minor as bigint) as price_minor,
        cast(discount_minor as bigint) as discount_minor,
        currency,
        billing_period,
        coupon_id,
        {{ to_utc_timestamp('trial_ends_at') }} as trial_ends_at,
        {{ to_utc_timestamp('current_period_end') }} as current_period_end,
        {{ to_utc_timestamp('period_start') }} as period_start,
        {{ to_utc_timestamp('period_end') }} as period_end,
        {{ to_utc_timestamp('effective_at') }} as effective_at,
        reason as cancel_reason,
        initiated_by,
        {{ to_utc_timestamp('resume_at') }} as resume_at,
        ended_reason

    from source

),

final as (

    select * from renamed

)

select * from final
