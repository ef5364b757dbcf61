{#- label_observable_Nd = month_end + N days <= the as-of date, for the rows where one was still
    false (the same expression as in customer_months). -#}
{% macro refresh_label_observability() %}
    {%- if incremental_run() -%}
    update {{ this }}
    set
        {% for horizon in [30, 60, 90] -%}
        label_observable_{{ horizon }}d = {{ dbt.dateadd('day', horizon, 'month_end') }} <= (select as_of_date from {{ ref('int_as_of') }}){{ ',' if not loop.last }}
        {% endfor -%}
    where not label_observable_90d
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
