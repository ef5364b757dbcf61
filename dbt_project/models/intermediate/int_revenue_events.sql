-- Money events converted to the reporting currency at the rate of their day (major units, exact):
-- successful payments, refunds, chargebacks (amounts positive) and completed one-time purchases.
{{ incremental_by_customer() }}
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

payments as (

    select
        event_id,
        customer_id,
        occurred_at,
        case payment_event
            when 'succeeded' then 'payment'
            when 'refunded' then 'refund'
            when 'chargeback' then 'chargeback'
        end as revenue_type,
        subscription_id,
        purchase_id,
        payment_id,
        provider,
        amount_minor,
        currency
    from {{ ref('stg_events__payments') }}
    where payment_event in ('succeeded', 'refunded', 'chargeback')
      {{ changed_customers_only('customer_id') }}

),

purchases as (

    select
        event_id,
        customer_id,
        purchased_at as occurred_at,
        'one_time_purchase' as revenue_type,
        null as subscription_id,
        purchase_id,
        null as payment_id,
        null as provider,
        amount_minor,
        currency
    from {{ ref('stg_events__purchases') }}
    where true {{ changed_customers_only('customer_id') }}

),

unioned as (

    select * from payments
    union all
    select * from purchases

),

final as (

    select
        unioned.event_id,
        unioned.customer_id,
        unioned.occurred_at,
        cast(unioned.occurred_at as date) as revenue_date,
        unioned.revenue_type,
        unioned.subscription_id,
        unioned.purchase_id,
        unioned.payment_id,
        unioned.provider,
        unioned.amount_minor,
        unioned.currency,
        cast(cast(unioned.amount_minor as decimal(38, 0)) * fx.unit_rate as decimal(38, 16)) as amount
    from unioned
    cross join as_of
    left join fx
        on unioned.currency = fx.currency
        and cast(unioned.occurred_at as date) = fx.rate_date
    where cast(unioned.occurred_at as date) <= as_of.as_of_date

)

select * from final
