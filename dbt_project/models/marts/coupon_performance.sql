-- One row per coupon_id x campaign_id (`none` without a campaign). A redemption is a coupon.redeemed
-- (or a subscription.started carrying a coupon_id without one); see int_coupon_redemptions.
--   churned_within_90d / churn_rate_90d  the subscription ended within 90 days after the redemption,
--                                        among redemptions at least 90 days before the as-of date
--   retention_3m                         still live (not ended) 3 months after the redemption, among
--                                        redemptions at least 3 months old
--   coupon expiry                        for coupons whose scheduled end (coupon_expires_on) is on or
--                                        before the as-of date while the subscription was live: the
--                                        subscription's MRR the day before the end (during the coupon)
--                                        and on the end day (after), both priced at the end day's rate,
--                                        so FX does not blur the price effect
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

redemptions as (

    select * from {{ ref('int_coupon_redemptions') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions') }}

),

states as (

    select * from {{ ref('int_subscription_states') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

outcomes as (

    select
        redemptions.*,
        subscriptions.ended_at,
        {{ dbt.dateadd('day', 90, 'cast(redemptions.redeemed_at as date)') }} <= as_of.as_of_date as is_90d_observable,
        subscriptions.ended_at is not null
            and cast(subscriptions.ended_at as date) <= {{ dbt.dateadd('day', 90, 'cast(redemptions.redeemed_at as date)') }}
            as is_churned_within_90d,
        {{ dbt.dateadd('month', 3, 'cast(redemptions.redeemed_at as date)') }} <= as_of.as_of_date as is_3m_observable,
        subscriptions.subscription_id is not null
            and (subscriptions.ended_at is null
                 or cast(subscriptions.ended_at as date) > {{ dbt.dateadd('month', 3, 'cast(redemptions.redeemed_at as date)') }})
            as is_retained_3m,
        redemptions.coupon_expires_on is not null
            and redemptions.coupon_expires_on <= as_of.as_of_date as is_expired
    from redemptions
    cross join as_of
    left join subscriptions on redemptions.subscription_id = subscriptions.subscription_id

),

expiry_mrr as (

    select
        outcomes.redemption_id,
        sum(case when states.valid_from <= {{ dbt.dateadd('day', -1, 'outcomes.coupon_expires_on') }}
                  and coalesce(states.valid_to, cast('9999-12-31' as date)) > {{ dbt.dateadd('day', -1, 'outcomes.coupon_expires_on') }}
                 then states.mrr_local * fx.unit_rate else 0 end) as mrr_during,
        sum(case when states.valid_from <= outcomes.coupon_expires_on
                  and coalesce(states.valid_to, cast('9999-12-31' as date)) > outcomes.coupon_expires_on
                 then states.mrr_local * fx.unit_rate else 0 end) as mrr_after,
        bool_or(states.valid_from <= outcomes.coupon_expires_on
                and coalesce(states.valid_to, cast('9999-12-31' as date)) > outcomes.coupon_expires_on
                and states.is_live) as is_live_at_expiry
    from outcomes
    inner join states
        on outcomes.subscription_id = states.subscription_id
        and states.valid_from <= outcomes.coupon_expires_on
        and coalesce(states.valid_to, cast('9999-12-31' as date)) > {{ dbt.dateadd('day', -1, 'outcomes.coupon_expires_on') }}
    left join fx
        on states.currency = fx.currency
        and fx.rate_date = outcomes.coupon_expires_on
    where outcomes.is_expired
    group by outcomes.redemption_id

),

final as (

    select
        outcomes.coupon_id,
        outcomes.campaign_id,
        cast(count(*) as integer) as redemptions,
        cast(count(distinct outcomes.subscription_id) as integer) as subscriptions,
        cast(count(distinct outcomes.customer_id) as integer) as customers,
        cast(sum(case when outcomes.is_90d_observable then 1 else 0 end) as integer) as redemptions_90d_observable,
        cast(sum(case when outcomes.is_90d_observable and outcomes.is_churned_within_90d then 1 else 0 end) as integer)
            as churned_within_90d,
        cast(sum(case when outcomes.is_90d_observable and outcomes.is_churned_within_90d then 1 else 0 end) as double)
            / nullif(sum(case when outcomes.is_90d_observable then 1 else 0 end), 0) as churn_rate_90d,
        cast(sum(case when outcomes.is_3m_observable and outcomes.is_retained_3m then 1 else 0 end) as double)
            / nullif(sum(case when outcomes.is_3m_observable then 1 else 0 end), 0) as retention_3m,
        cast(sum(case when expiry_mrr.is_live_at_expiry then 1 else 0 end) as integer) as expired_while_live,
        cast(coalesce(sum(case when expiry_mrr.is_live_at_expiry then expiry_mrr.mrr_during end), 0) as decimal(38, 22))
            as mrr_during_coupon,
        cast(coalesce(sum(case when expiry_mrr.is_live_at_expiry then expiry_mrr.mrr_after end), 0) as decimal(38, 22))
            as mrr_after_coupon,
        cast(sum(case when expiry_mrr.is_live_at_expiry then expiry_mrr.mrr_after end) as double)
            / nullif(cast(sum(case when expiry_mrr.is_live_at_expiry then expiry_mrr.mrr_during end) as double), 0)
            as mrr_after_to_during_ratio
    from outcomes
    left join expiry_mrr on outcomes.redemption_id = expiry_mrr.redemption_id
    group by outcomes.coupon_id, outcomes.campaign_id

)

select * from final
