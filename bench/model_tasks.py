"""The function tasks ``bench.models`` gives each local model: signature, docstring, a
visible example (as a user would write one) and hidden asserts the answer must pass.

``HELD_OUT`` was written with ``TUNING`` and never looked at while the prompt and the
generation settings were chosen; its figures say how far the tuning figures generalize.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALL_TASKS", "HELD_OUT", "TUNING", "FunctionTask"]


@dataclass(frozen=True, slots=True)
class FunctionTask:
    """One function to write: ``def name(parameters) -> returns``, what it does, and checks."""

    name: str
    parameters: tuple[tuple[str, str], ...]  # (name, annotation)
    returns: str
    summary: str
    example: tuple[str, str]  # (call arguments, expected result), shown in the docstring
    asserts: tuple[str, ...]  # hidden: never shown to the model
    held_out: bool = False


def _task(
    signature: tuple[str, tuple[tuple[str, str], ...], str],
    summary: str,
    example: tuple[str, str],
    *asserts: str,
    held_out: bool = False,
) -> FunctionTask:
    name, parameters, returns = signature
    return FunctionTask(name, parameters, returns, summary, example, asserts, held_out)


TUNING: tuple[FunctionTask, ...] = (
    _task(
        ("slugify", (("text", "str"),), "str"),
        "Lower-case text, words joined by single hyphens, only letters and digits kept.",
        ("'Hello, World!'", "'hello-world'"),
        "assert slugify('  Python 3 Rocks ') == 'python-3-rocks'",
        "assert slugify('a--b') == 'a-b'",
    ),
    _task(
        ("is_palindrome", (("text", "str"),), "bool"),
        "Whether text reads the same backwards, ignoring case, spaces and punctuation.",
        ("'Racecar'", "True"),
        "assert is_palindrome('A man, a plan, a canal: Panama') is True",
        "assert is_palindrome('hello') is False",
    ),
    _task(
        ("celsius_to_fahrenheit", (("celsius", "float"),), "float"),
        "Convert a temperature in degrees Celsius to degrees Fahrenheit.",
        ("100", "212.0"),
        "assert abs(celsius_to_fahrenheit(0) - 32.0) < 1e-9",
        "assert abs(celsius_to_fahrenheit(-40) + 40.0) < 1e-9",
    ),
    _task(
        ("fizzbuzz", (("n", "int"),), "str"),
        "'Fizz' for multiples of 3, 'Buzz' of 5, 'FizzBuzz' of both, else the number.",
        ("15", "'FizzBuzz'"),
        "assert fizzbuzz(9) == 'Fizz'",
        "assert fizzbuzz(10) == 'Buzz'",
        "assert fizzbuzz(7) == '7'",
    ),
    _task(
        ("flatten", (("items", "list[list[int]]"),), "list[int]"),
        "The items of the inner lists, in order, in one flat list.",
        ("[[1, 2], [3]]", "[1, 2, 3]"),
        "assert flatten([]) == []",
        "assert flatten([[5], [], [6, 7]]) == [5, 6, 7]",
    ),
    _task(
        ("word_count", (("text", "str"),), "dict[str, int]"),
        "How often each lower-cased word occurs in text (words split on whitespace).",
        ("'a b a'", "{'a': 2, 'b': 1}"),
        "assert word_count('The the cat') == {'the': 2, 'cat': 1}",
        "assert word_count('') == {}",
    ),
    _task(
        ("chunk", (("items", "list[int]"), ("size", "int")), "list[list[int]]"),
        "Split items into consecutive lists of size items; the last may be shorter.",
        ("[1, 2, 3, 4, 5], 2", "[[1, 2], [3, 4], [5]]"),
        "assert chunk([], 3) == []",
        "assert chunk([1, 2, 3], 3) == [[1, 2, 3]]",
    ),
    _task(
        ("dedupe", (("items", "list[str]"),), "list[str]"),
        "The items without repeats, keeping the order of first appearance.",
        ("['b', 'a', 'b']", "['b', 'a']"),
        "assert dedupe(['x', 'y', 'x', 'z', 'y']) == ['x', 'y', 'z']",
        "assert dedupe([]) == []",
    ),
    _task(
        ("camel_to_snake", (("name", "str"),), "str"),
        "Convert a camelCase or PascalCase identifier to snake_case.",
        ("'camelCase'", "'camel_case'"),
        "assert camel_to_snake('HTTPServerError') in {'http_server_error', 'h_t_t_p_server_error'}",
        "assert camel_to_snake('userId') == 'user_id'",
        "assert camel_to_snake('PascalCaseName') == 'pascal_case_name'",
    ),
    _task(
        ("median", (("values", "list[float]"),), "float"),
        "The median of a non-empty list of numbers (the mean of the middle two if even).",
        ("[3, 1, 2]", "2"),
        "assert median([4, 1, 3, 2]) == 2.5",
        "assert median([7]) == 7",
    ),
    _task(
        ("is_leap_year", (("year", "int"),), "bool"),
        "Whether year is a leap year in the Gregorian calendar.",
        ("2024", "True"),
        "assert is_leap_year(1900) is False",
        "assert is_leap_year(2000) is True",
        "assert is_leap_year(2023) is False",
    ),
    _task(
        ("factorial", (("n", "int"),), "int"),
        "The factorial of a non-negative integer n.",
        ("5", "120"),
        "assert factorial(0) == 1",
        "assert factorial(10) == 3628800",
    ),
)

# Held out: not looked at while tuning.
HELD_OUT: tuple[FunctionTask, ...] = (
    _task(
        ("parse_duration", (("text", "str"),), "int"),
        "Seconds in a duration such as '1h30m' or '45s' (units h, m and s, each optional).",
        ("'1h30m'", "5400"),
        "assert parse_duration('45s') == 45",
        "assert parse_duration('2h') == 7200",
        "assert parse_duration('1m5s') == 65",
        held_out=True,
    ),
    _task(
        ("to_roman", (("number", "int"),), "str"),
        "The Roman numeral for an integer from 1 to 3999.",
        ("9", "'IX'"),
        "assert to_roman(1994) == 'MCMXCIV'",
        "assert to_roman(3) == 'III'",
        "assert to_roman(40) == 'XL'",
        held_out=True,
    ),
    _task(
        ("binary_search", (("items", "list[int]"), ("target", "int")), "int"),
        "The index of target in the sorted list items, or -1 when it is absent.",
        ("[1, 3, 5, 7], 5", "2"),
        "assert binary_search([1, 3, 5, 7], 4) == -1",
        "assert binary_search([], 1) == -1",
        "assert binary_search(list(range(0, 100, 2)), 98) == 49",
        held_out=True,
    ),
    _task(
        ("is_valid_email", (("address", "str"),), "bool"),
        "Whether address looks like an e-mail: one @, a non-empty local part, a dotted domain.",
        ("'ann@example.com'", "True"),
        "assert is_valid_email('no-at-sign.com') is False",
        "assert is_valid_email('a@b@c.com') is False",
        "assert is_valid_email('bob@localhost') is False",
        "assert is_valid_email('x.y@mail.example.org') is True",
        held_out=True,
    ),
    _task(
        ("count_vowels", (("text", "str"),), "int"),
        "How many vowels (a, e, i, o, u, either case) text contains.",
        ("'Hello'", "2"),
        "assert count_vowels('AEIOU xyz') == 5",
        "assert count_vowels('') == 0",
        held_out=True,
    ),
    _task(
        ("gcd", (("a", "int"), ("b", "int")), "int"),
        "The greatest common divisor of two non-negative integers.",
        ("12, 18", "6"),
        "assert gcd(17, 5) == 1",
        "assert gcd(0, 9) == 9",
        held_out=True,
    ),
    _task(
        ("transpose", (("matrix", "list[list[int]]"),), "list[list[int]]"),
        "The transpose of a rectangular matrix given as a list of rows.",
        ("[[1, 2], [3, 4]]", "[[1, 3], [2, 4]]"),
        "assert transpose([[1, 2, 3]]) == [[1], [2], [3]]",
        "assert transpose([]) == []",
        held_out=True,
    ),
    _task(
        ("running_total", (("values", "list[int]"),), "list[int]"),
        "The cumulative sums of values: each item is the sum of all items up to it.",
        ("[1, 2, 3]", "[1, 3, 6]"),
        "assert running_total([]) == []",
        "assert running_total([5, -5, 2]) == [5, 0, 2]",
        held_out=True,
    ),
)

ALL_TASKS: tuple[FunctionTask, ...] = TUNING + HELD_OUT
