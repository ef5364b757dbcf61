-- Month x offer_type x platform x provider x country of cash revenue (METRICS.md "Revenue"), each
-- amount in the reporting currency at the rate of its day (int_revenue_events), exact decimals.
--   offer_type  `subscription` for subscription payments; the purchase's offer_type (pass / live_ppv /
--               tvod) for one-time purchases and their payments
--   platform    the subscription's platform, or the purchase's
--   provider    the payment's provider; a refund / chargeback takes the provider of the payment it
--               reverses, a purchase.completed the provider of the payment for that purchase
--   country     the customer's latest country (`unknown` if missing or erased), as the MRR segments
-- A refund / chargeback is attributed to the segment of the payment it reverses (by payment_id), in
-- the month it happened. Net cash revenue = payments - refunds - chargebacks. One-time revenue is the
-- purchase.completed amounts (a view on the one-time part, not added to the net cash revenue).
-- Missing dimension values are `unknown`. The segment of each event is in int_revenue_segments.
with

segmented as (

    select * from {{ ref('int_revenue_segments') }}

),

final as (

    select
        month,
        offer_type,
        platform,
        provider,
        country,
        {% for revenue_type, column in [('payment', 'payments'), ('refund', 'refunds'), ('chargeback', 'chargebacks'), ('one_time_purchase', 'one_time_revenue')] -%}
        cast(sum(case when revenue_type = '{{ revenue_type }}' then amount else 0 end) as decimal(38, 16)) as {{ column }},
        {% endfor -%}
        cast(sum(case
            when revenue_type = 'payment' then amount
            when revenue_type in ('refund', 'chargeback') then -amount
            else 0
        end) as decimal(38, 16)) as net_cash_revenue,
        {% for revenue_type, column in [('payment', 'payments_count'), ('refund', 'refunds_count'), ('chargeback', 'chargebacks_count'), ('one_time_purchase', 'purchases_count')] -%}
        cast(sum(case when revenue_type = '{{ revenue_type }}' then 1 else 0 end) as integer) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from segmented
    group by 1, 2, 3, 4, 5

)

select * from final
