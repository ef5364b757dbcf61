-- Month x reason x initiated_by x churn_type of churn. The reason of a churn is the cancellation reason
-- of the subscription that ended (int_subscriptions: the request pending at the end, withdrawn ones
-- excluded); an involuntary churn (METRICS.md) has reason `payment_failed`, initiated_by `system`.
-- Without a cancellation request: reason `unknown`, initiated_by `merchant` for ended_reason `merchant`,
-- otherwise `unknown`.
--   churned_subscriptions      subscriptions that ended in the month (also the ones whose end was only
--                              a contraction because the customer kept another subscription)
--   churned_customers / churned_mrr  the customer `churn` movements of fct_mrr_movements in the month,
--                              attributed to the subscription that ended last that day (as churn_type);
--                              summed over reasons they equal metrics_monthly.churned_customers
--                              (per month, distinct) and churned_mrr (negative, a loss)
with

subscriptions as (

    select * from {{ ref('int_subscriptions') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

ended as (

    select
        subscription_id,
        customer_id,
        ended_at,
        cast(ended_at as date) as ended_date,
        churn_type,
        case
            when churn_type = 'involuntary' then 'payment_failed'
            else coalesce(cancel_reason, 'unknown')
        end as reason,
        case
            when churn_type = 'involuntary' then 'system'
            when cancel_initiated_by is not null then cancel_initiated_by
            when ended_reason = 'merchant' then 'merchant'
            else 'unknown'
        end as initiated_by,
        row_number() over (
            partition by customer_id, cast(ended_at as date)
            order by ended_at desc, subscription_id desc
        ) as rank_in_day
    from subscriptions
    where ended_at is not null

),

subscription_churn as (

    select
        cast({{ dbt.date_trunc('month', 'ended_date') }} as date) as month,
        reason,
        initiated_by,
        churn_type,
        count(*) as churned_subscriptions
    from ended
    group by 1, 2, 3, 4

),

customer_churn as (

    select
        cast({{ dbt.date_trunc('month', 'movements.movement_date') }} as date) as month,
        coalesce(ended.reason, 'unknown') as reason,
        coalesce(ended.initiated_by, 'unknown') as initiated_by,
        coalesce(ended.churn_type, movements.churn_type, 'voluntary') as churn_type,
        count(distinct movements.customer_id) as churned_customers,
        sum(movements.mrr_change) as churned_mrr
    from movements
    left join ended
        on movements.customer_id = ended.customer_id
        and movements.movement_date = ended.ended_date
        and ended.rank_in_day = 1
    where movements.movement_type = 'churn'
    group by 1, 2, 3, 4

),

final as (

    select
        coalesce(subscription_churn.month, customer_churn.month) as month,
        coalesce(subscription_churn.reason, customer_churn.reason) as reason,
        coalesce(subscription_churn.initiated_by, customer_churn.initiated_by) as initiated_by,
        coalesce(subscription_churn.churn_type, customer_churn.churn_type) as churn_type,
        cast(coalesce(subscription_churn.churned_subscriptions, 0) as integer) as churned_subscriptions,
        cast(coalesce(customer_churn.churned_customers, 0) as integer) as churned_customers,
        cast(coalesce(customer_churn.churned_mrr, 0) as decimal(38, 22)) as churned_mrr
    from subscription_churn
    full outer join customer_churn
        on subscription_churn.month = customer_churn.month
        and subscription_churn.reason = customer_churn.reason
        and subscription_churn.initiated_by = customer_churn.initiated_by
        and subscription_churn.churn_type = customer_churn.churn_type

)

select * from final
