{#- date_expr + an ISO 8601 duration `PnD` / `PnW` / `PnM` / `PnY` (text expression), as a date;
    null when the duration is null or not of that form. Month arithmetic clamps to the month end. -#}
{% macro add_iso_duration(date_expr, duration_expr) -%}
    {%- set n = "cast(nullif(regexp_extract(" ~ duration_expr ~ ", '^P([0-9]+)([DWMY])$', 1), '') as integer)" -%}
    cast(case regexp_extract({{ duration_expr }}, '^P([0-9]+)([DWMY])$', 2)
        when 'D' then {{ dbt.dateadd('day', n, date_expr) }}
        when 'W' then {{ dbt.dateadd('day', '7 * ' ~ n, date_expr) }}
        when 'M' then {{ dbt.dateadd('month', n, date_expr) }}
        when 'Y' then {{ dbt.dateadd('month', '12 * ' ~ n, date_expr) }}
    end as date)
{%- endmacro %}
