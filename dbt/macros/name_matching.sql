{#- How a place name becomes a match key (one rule set for partners and register areas, documented in
    docs/matching.md): Latin letters folded, lower case, the designators that only say what kind of area it
    is removed (City of, Kota, Kabupaten, Daerah Khusus Ibukota, Prefecture, -shi, Thành phố, Huyện, -si, -gun…),
    everything but letters
    and digits removed, and the spellings of Japanese romanisation written one way: long vowels (ou, oo → o;
    uu → u: Kōchi, Kouchi, Kochi; a final or pre-consonant oh → o: Minoh), m before b, m, p as n (Gotemba,
    Gotenba), cch as tch (Kutchan). -#}
{% macro name_match_key(expr) -%}
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(regexp_replace(
            lower({{ latin_fold(expr) }}),
            '^\s*(city of|municipality of|province of|kota administrasi|kota|kabupaten|daerah khusus ibukota|daerah istimewa|provinsi|special region of|thanh pho|tinh|quan|huyen|thi xa|thi tran)\s+', ''),
            '(\s+(city|municipality|regency|prefecture|province|metropolis|metropolitan city|special city)|-(shi|ken|to|fu|machi|cho|mura|son|si|gun|gu|do|gwangyeoksi|teukbyeolsi|teukbyeoljachisi|teukbyeoljachido))\s*$', ''),
        '[^a-z0-9]', '', 'g'),
    'oh([^aeiou]|$)', 'o\1', 'g'), 'm([bmp])', 'n\1', 'g'), 'cch', 'tch', 'g'),
    'ou', 'o', 'g'), 'oo', 'o', 'g'), 'uu', 'u', 'g')
{%- endmacro %}

{#- What a partner's own name says it is: a city, a regency, a province or prefecture, a district (NULL: it
    does not say). -#}
{% macro name_designator(expr) -%}
    case
        when {{ expr }} ~* '(^\s*(city of|kota)\s|\scity\s*$|-shi\s*$)' then 'city'
        when {{ expr }} ~* '(^\s*kabupaten\s|\sregency\s*$)' then 'regency'
        when {{ expr }} ~* '(^\s*(province of|provinsi)\s|\s(prefecture|province)\s*$|-ken\s*$)' then 'province'
        when {{ expr }} ~* '\s(district|county)\s*$' then 'district'
    end
{%- endmacro %}
