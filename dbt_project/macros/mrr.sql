{#- MRR normalisation (METRICS.md): price x 1 month / period length, a month being a twelfth of a
    year and a year 365 days. `nM` /n, `nY` /12n, `nW` x52/12n, `nD` x365/12n.
    The factor is kept as an integer numerator / denominator so that the result stays an exact
    decimal: (net_minor * num * 10^6 / den) rounded half-up to an integer count of micro-minor-units,
    then scaled back by a decimal multiplication (never a decimal / decimal, which is double in DuckDB).
    Unknown / unparsable periods give null. -#}

{% macro period_factor_numerator(period) -%}
    case regexp_extract({{ period }}, '^P([0-9]+)([DWMY])$', 2)
        when 'M' then 1
        when 'Y' then 1
        when 'W' then 52
        when 'D' then 365
    end
{%- endmacro %}

{% macro period_factor_denominator(period) -%}
    (case regexp_extract({{ period }}, '^P([0-9]+)([DWMY])$', 2)
        when 'M' then 1
        else 12
    end * nullif(cast(nullif(regexp_extract({{ period }}, '^P([0-9]+)([DWMY])$', 1), '') as bigint), 0))
{%- endmacro %}

{#- Local monthly recurring amount, minor units, decimal(38,6). -#}
{% macro monthly_amount(net_minor_expr, period) -%}
    cast(
        cast(
            (cast({{ net_minor_expr }} as hugeint) * {{ period_factor_numerator(period) }} * 2000000
                + {{ period_factor_denominator(period) }})
            // (2 * {{ period_factor_denominator(period) }})
        as decimal(38, 0)) * cast(0.000001 as decimal(38, 6))
    as decimal(38, 6))
{%- endmacro %}
