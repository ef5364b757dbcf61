{{ incremental_by_customer() }}
-- Each money event of int_revenue_events with its revenue segment (METRICS.md "Revenue"), for
-- revenue_monthly_by_segment. Every input is the customer's own (their payments, refunds,
-- subscriptions, purchases and latest country), so the table is rebuilt by customer:
--   offer_type  `subscription` for subscription payments; the purchase's offer_type (pass / live_ppv /
--               tvod) for one-time purchases and their payments
--   platform    the subscription's platform, or the purchase's
--   provider    the payment's provider; a refund / chargeback takes the provider of the payment it
--               reverses, a purchase.completed the provider of the payment for that purchase
--   country     the customer's latest country (`unknown` if missing or erased), as the MRR segments
-- A refund / chargeback is attributed to the segment of the payment it reverses (by payment_id), in
-- the month it happened. Net cash revenue = payments - refunds - chargebacks. One-time revenue is the
-- purchase.completed amounts (a view on the one-time part, not added to the net cash revenue).
-- Missing dimension values are `unknown`.
with

revenue as (

    select * from {{ ref('int_revenue_events') }}
    where true {{ changed_customers_only('customer_id') }}

),

customers as (

    select * from {{ ref('int_customers') }}
    where true {{ changed_customers_only('customer_id') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions') }}
    where true {{ changed_customers_only('customer_id') }}

),

purchases as (

    select *
    from (
        select
            purchase_events.*,
            row_number() over (partition by purchase_id order by purchased_at, event_id) as rn
        from {{ ref('stg_events__purchases') }} as purchase_events
        where true {{ changed_customers_only('purchase_events.customer_id') }}
    ) as ranked
    where rn = 1

),

-- the successful payment each refund / chargeback reverses (the first one with that payment_id)
original_payments as (

    select *
    from (
        select
            payment_id,
            subscription_id,
            purchase_id,
            provider,
            row_number() over (partition by payment_id order by occurred_at, event_id) as rn
        from revenue
        where revenue_type = 'payment'
          and payment_id is not null
    ) as ranked
    where rn = 1

),

purchase_providers as (

    select purchase_id, min(provider) as provider
    from revenue
    where revenue_type = 'payment'
      and purchase_id is not null
    group by purchase_id

),

attributed as (

    select
        revenue.event_id,
        revenue.revenue_type,
        revenue.revenue_date,
        revenue.customer_id,
        revenue.amount,
        coalesce(revenue.subscription_id, original_payments.subscription_id) as subscription_id,
        coalesce(revenue.purchase_id, original_payments.purchase_id) as purchase_id,
        case
            when revenue.revenue_type = 'one_time_purchase' then purchase_providers.provider
            else coalesce(revenue.provider, original_payments.provider)
        end as provider
    from revenue
    left join original_payments
        on revenue.revenue_type in ('refund', 'chargeback')
        and revenue.payment_id = original_payments.payment_id
    left join purchase_providers
        on revenue.revenue_type = 'one_time_purchase'
        and revenue.purchase_id = purchase_providers.purchase_id

),

segmented as (

    select
        cast({{ dbt.date_trunc('month', 'attributed.revenue_date') }} as date) as month,
        coalesce(
            case when attributed.subscription_id is not null then 'subscription' end,
            purchases.offer_type,
            'unknown'
        ) as offer_type,
        coalesce(subscriptions.platform, purchases.platform, 'unknown') as platform,
        coalesce(attributed.provider, 'unknown') as provider,
        coalesce(customers.segment_country, 'unknown') as country,
        attributed.event_id,
        attributed.customer_id,
        attributed.revenue_type,
        attributed.amount
    from attributed
    left join subscriptions on attributed.subscription_id = subscriptions.subscription_id
    left join purchases on attributed.purchase_id = purchases.purchase_id
    left join customers on attributed.customer_id = customers.customer_id

)

select * from segmented
