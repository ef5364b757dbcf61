-- Subscription x [valid_from, valid_to) at DATE grain of constant state, as known at the as-of date: a
-- change takes effect at its effective timestamp, backdated changes included (the `effective` timeline
-- of int_subscription_timelines, where the change points are described).
{{ incremental_by_customer() }}
with

timelines as (

    select * from {{ ref('int_subscription_timelines') }}
    where timeline = 'effective' {{ changed_customers_only('customer_id') }}

),

final as (

    select
        subscription_id, customer_id, valid_from, valid_to, offer_id, platform, currency, billing_period,
        price_minor, discount_minor, is_live, is_paused, is_trial, mrr_local, trial_mrr_local,
        monthly_amount_local
    from timelines

)

select * from final
