{{ config(materialized='incremental', incremental_strategy='append') }}
-- Every subscription.* event, payload fields extracted and typed (timestamps naive UTC).
with

source as (

    select * from {{ source('raw', 'events') }}
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
        {{ json_text('data', 'subscription_id') }} as subscription_id,
        {{ json_text('data', 'offer_id') }} as offer_id,
        {{ json_text('data', 'platform') }} as platform,
        cast({{ json_text('data', 'price_minor') }} as bigint) as price_minor,
        cast({{ json_text('data', 'discount_minor') }} as bigint) as discount_minor,
        {{ json_text('data', 'currency') }} as currency,
        {{ json_text('data', 'billing_period') }} as billing_period,
        {{ json_text('data', 'coupon_id') }} as coupon_id,
        {{ to_utc_timestamp(json_text('data', 'trial_ends_at')) }} as trial_ends_at,
        {{ to_utc_timestamp(json_text('data', 'current_period_end')) }} as current_period_end,
        {{ to_utc_timestamp(json_text('data', 'period_start')) }} as period_start,
        {{ to_utc_timestamp(json_text('data', 'period_end')) }} as period_end,
        {{ to_utc_timestamp(json_text('data', 'effective_at')) }} as effective_at,
        {{ json_text('data', 'reason') }} as cancel_reason,
        {{ json_text('data', 'initiated_by') }} as initiated_by,
        {{ to_utc_timestamp(json_text('data', 'resume_at')) }} as resume_at,
        {{ json_text('data', 'ended_reason') }} as ended_reason

    from source

),

final as (

    select * from renamed

)

select * from final
