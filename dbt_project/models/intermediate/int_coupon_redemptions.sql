-- One row per coupon applied to a subscription: every coupon.redeemed, plus a subscription.started
-- carrying a coupon_id without a matching redemption event. The coupon's discount runs from
-- coupon_starts_on = the later of the redemption day and the subscription's first paid day (trial end,
-- or start), for its duration: `once` = one billing period, an ISO duration (`P3M`), `forever` = no end.
-- coupon_expires_on is the scheduled day the discount ends (known from the redemption terms).
with

redemptions as (

    select * from {{ ref('stg_events__coupons') }}

),

subscription_events as (

    select * from {{ ref('stg_events__subscriptions') }}

),

starts as (

    select *
    from (
        select
            subscription_events.*,
            row_number() over (partition by subscription_id order by occurred_at, event_id) as rn
        from subscription_events
        where event_type = 'subscription.started'
    ) as ranked
    where rn = 1

),

applied as (

    select
        redemptions.event_id as redemption_id,
        redemptions.coupon_id,
        redemptions.campaign_id,
        redemptions.customer_id,
        redemptions.subscription_id,
        redemptions.redeemed_at,
        redemptions.discount_type,
        redemptions.discount_value,
        redemptions.duration
    from redemptions

    union all

    select
        starts.event_id as redemption_id,
        starts.coupon_id,
        null as campaign_id,
        starts.customer_id,
        starts.subscription_id,
        starts.occurred_at as redeemed_at,
        null as discount_type,
        null as discount_value,
        null as duration
    from starts
    where starts.coupon_id is not null
      and not exists (
          select 1
          from redemptions
          where redemptions.subscription_id = starts.subscription_id
            and redemptions.coupon_id = starts.coupon_id
      )

),

with_subscription as (

    select
        applied.*,
        starts.billing_period,
        cast(greatest(
            applied.redeemed_at,
            case
                when starts.trial_ends_at is not null
                    and cast(starts.trial_ends_at as date) > cast(starts.occurred_at as date)
                    then starts.trial_ends_at
                else starts.occurred_at
            end
        ) as date) as coupon_starts_on
    from applied
    left join starts on applied.subscription_id = starts.subscription_id

),

final as (

    select
        redemption_id,
        coupon_id,
        coalesce(campaign_id, 'none') as campaign_id,
        customer_id,
        subscription_id,
        redeemed_at,
        discount_type,
        discount_value,
        duration,
        billing_period,
        coalesce(coupon_starts_on, cast(redeemed_at as date)) as coupon_starts_on,
        case
            when duration = 'forever' then null
            when duration = 'once' then {{ add_iso_duration('coalesce(coupon_starts_on, cast(redeemed_at as date))', 'billing_period') }}
            else {{ add_iso_duration('coalesce(coupon_starts_on, cast(redeemed_at as date))', 'duration') }}
        end as coupon_expires_on
    from with_subscription

)

select * from final
