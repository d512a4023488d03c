"""`vlens otp bulk`'s input and options: streamed, CSV columns found, every bad input a
one-line error (exit 2) naming the file or option, never a traceback."""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
import re
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from vlens_async.cli import EXIT_API, EXIT_OK, EXIT_USAGE, main
from vlens_async.cli._inputs import numbers_from

from .conftest import HANG_GUARD, bulk_command, bulk_env, finals, number, run_main, wait_for


def _one_error_line(err: str, *names: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("vlens: error:"), err
    for name in names:
        assert name in lines[0], (name, err)


def _has_outcomes(out: Path, count: int) -> bool:
    return len(finals(out)) == count


def test_numbers_piped_slowly_are_sent_before_the_input_ends(tmp_path: Path) -> None:
    """Item 11: a number written to stdin is sent (and journaled) while stdin stays open."""
    out = tmp_path / "results.jsonl"
    run = subprocess.Popen(
        bulk_command("-", "--out", str(out), "--sandbox"),
        env=bulk_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stdin is not None
    try:
        for index in range(3):
            run.stdin.write(f"{number(index)}\n")
            run.stdin.flush()
            wait_for(functools.partial(_has_outcomes, out, index + 1), "a send", process=run)
    finally:
        run.stdin.close()
        run.wait(timeout=HANG_GUARD)
        assert run.stderr is not None
        stderr = run.stderr.read()
        run.stderr.close()
    assert run.returncode == EXIT_OK, stderr
    assert [r["status"] for r in finals(out)] == ["sent"] * 3


@pytest.mark.parametrize(
    ("encoded", "ok"),
    [
        (codecs.BOM_UTF8 + b"+201000000001\n", True),
        ("+201000000001\n".encode("utf-16"), True),  # with its BOM
        ("+201000000001\r\n".encode("utf-16-be").join([codecs.BOM_UTF16_BE, b""]), True),
        ("+201000000001 \u00e9\n".encode("latin-1"), False),
        ("+201000000001\n".encode("utf-16-le"), False),  # no BOM
    ],
    ids=["utf8-bom", "utf16-bom", "utf16-be-bom", "latin1", "utf16-no-bom"],
)
def test_input_encodings(
    encoded: bytes, ok: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: UTF-8/UTF-16 with a BOM are read; other encodings exit 2 naming the file."""
    source = tmp_path / "numbers.txt"
    source.write_bytes(encoded)
    out = tmp_path / "results.jsonl"
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    if ok:
        assert code == EXIT_OK, err
        assert [r["phone_number"] for r in finals(out)] == [number(1)]
    else:
        assert code == EXIT_USAGE
        _one_error_line(err, "INPUT", str(source))
        assert not out.exists()


def test_csv_with_a_stray_quote_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: a stray quote makes the csv module's "field larger than field limit"."""
    source = tmp_path / "people.csv"
    rows = "".join(f"Name {i},{number(i)}\n" for i in range(8000))
    source.write_text(f'name,phone\n"Jane,{number(1)}\n{rows}')
    out = tmp_path / "results.jsonl"
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_USAGE
    _one_error_line(err, str(source), "field larger than field limit")
    assert not out.exists()


def test_resume_on_a_journal_cut_inside_a_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: a crash cut the last line inside a multi-byte character: --resume works."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n{number(2)}\n")
    out = tmp_path / "results.jsonl"
    done = {"input": number(1), "phone_number": number(1), "status": "sent", "sent": "yes"}
    cut = json.dumps({"input": "+٢٠١", "status": "pending"}, ensure_ascii=False).encode()
    out.write_bytes(json.dumps(done).encode() + b"\n" + cut[: cut.index("٢".encode()) + 1])
    code, stdout, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_OK, err
    assert "1 already recorded" in stdout
    assert sorted(r["phone_number"] for r in finals(out)) == [number(1), number(2)]


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "42"])
def test_resume_on_a_journal_line_that_is_not_an_object(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: a journal line that is JSON but not an object: exit 2 naming file and line."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n")
    out = tmp_path / "results.jsonl"
    out.write_text(f'{{"input": "x", "status": "invalid"}}\n{line}\n')
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_USAGE
    _one_error_line(err, "--out", str(out), "line 2")


@pytest.mark.parametrize("resume", [[], ["--resume"]], ids=["new", "resume"])
@pytest.mark.parametrize("where", ["directory", "missing-folder", "full-disk"])
def test_out_that_cannot_be_written_exits_2_with_the_path(
    where: str, resume: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: --out a directory, in a missing folder or on a full disk (/dev/full, where
    every write fails with ENOSPC): exit 2 naming the path (it used to be 3, "unreachable")."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n")
    out = {
        "directory": tmp_path,
        "missing-folder": tmp_path / "nowhere" / "results.jsonl",
        "full-disk": Path("/dev/full"),
    }[where]
    code, stdout, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", *resume)
    assert code == EXIT_USAGE
    _one_error_line(err, "--out", str(out))
    assert stdout == ""


def test_unknown_provider_leaves_no_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: --provider bogus exits 2 before --out is created."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n")
    out = tmp_path / "results.jsonl"
    code, _, err = run_main(
        capsys, str(source), "--out", str(out), "--sandbox", "--provider", "bogus"
    )
    assert code == EXIT_USAGE
    _one_error_line(err, "--provider", "bogus")
    assert not out.exists()


def test_progress_never_shows_more_done_than_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 12: a journal holding numbers that are not in INPUT cannot push done past total."""
    source = tmp_path / "numbers.txt"
    source.write_text("".join(f"{number(i)}\n" for i in range(3)))
    out = tmp_path / "results.jsonl"
    out.write_text(
        "".join(
            json.dumps({"phone_number": number(i), "status": "sent", "sent": "yes"}) + "\n"
            for i in range(100, 105)
        )
    )
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox", "--resume")
    assert code == EXIT_OK, err
    shown = re.findall(r"progress: (\d+)/(\d+) done", err)
    assert shown
    assert all(int(done) <= int(total) for done, total in shown), shown
    assert shown[-1] == ("3", "3")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--concurrency", "0"),
        ("--concurrency", "-3"),
        ("--concurrency", "many"),
        ("--max-attempts", "0"),
        ("--max-attempts", "-5"),
        ("--max-attempts", "2.5"),
        ("--rate", "0/s"),
        ("--rate", "5/0s"),
        ("--rate", "fast"),
        ("--rate", "99999999999999999999/s"),
    ],
)
def test_bad_numeric_options_are_refused_naming_the_option(
    option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 7 (CLI): every numeric option is checked when given; exit 2 naming it."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"{number(1)}\n")
    out = tmp_path / "results.jsonl"
    with pytest.raises(SystemExit) as exited:
        main(["otp", "bulk", str(source), "--out", str(out), "--sandbox", f"{option}={value}"])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"argument {option}" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "header",
    ["Phone Number", "mobile", "phone_number", "MSISDN", " PHONE "],
)
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_csv_phone_column_found_among_usual_names_and_dialects(
    header: str, delimiter: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 13: `;` or `,` separated, the phone column under a usual name, any case/spaces."""
    source = tmp_path / "people.csv"
    rows = [["name", header, "city"], ["Doe Jane", number(1), "Cairo"], ["Bob", number(2), "X"]]
    source.write_text("".join(delimiter.join(row) + "\n" for row in rows))
    out = tmp_path / "results.jsonl"
    code, stdout, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_OK, err
    assert sorted(r["phone_number"] for r in finals(out)) == [number(1), number(2)]
    assert stdout.strip().endswith("sent 2")


def test_csv_column_option_and_comment_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 13: --column picks the column; a '#' line without a delimiter is a comment, in CSV
    mode too, but a row with one (an id such as #1003) is data."""
    source = tmp_path / "people.csv"
    source.write_text(
        f"# exported today\nphone,Backup Number\n# a note\n{number(1)},{number(2)}\n"
        f"#{number(3)},{number(4)}\n"
    )
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--sandbox", "--column", "backup number"]
    code, _, err = run_main(capsys, *args)
    assert code == EXIT_OK, err
    assert sorted(r["phone_number"] for r in finals(out)) == [number(2), number(4)]


def test_csv_row_starting_with_hash_is_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV data row whose first cell starts with '#' (an id column) is sent, not dropped."""
    source = tmp_path / "people.csv"
    source.write_text(f"#,phone\n#1001,{number(1)}\n  #1002,{number(2)}\n")
    out = tmp_path / "results.jsonl"
    code, stdout, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_OK, err
    assert sorted(r["phone_number"] for r in finals(out)) == [number(1), number(2)]
    assert stdout.strip().endswith("sent 2")


def test_csv_row_without_a_phone_cell_is_an_invalid_record_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row too short for the phone column, or with an empty phone cell, ends as one
    ``invalid`` record naming its line (exit 1), never silently dropped."""
    source = tmp_path / "people.csv"
    source.write_text(
        f"name,city,phone\nJane,Cairo,{number(1)}\nBob\n\nAli,Giza,  \nOmar,Luxor,{number(2)}\n"
    )
    out = tmp_path / "results.jsonl"
    code, stdout, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_API, err
    status = {r["input"]: r["status"] for r in finals(out)}  # invalid ones need no request
    assert len(finals(out)) == len(status) == 4
    assert status.pop(number(1)) == status.pop(number(2)) == "sent"
    assert sorted(status.items()) == [
        ("(line 3: no 'phone' cell)", "invalid"),
        ("(line 5: no 'phone' cell)", "invalid"),
    ]
    assert stdout.strip().endswith("sent 2, invalid 2")


@pytest.mark.parametrize(
    "body",
    [
        'name,phone\n"Jane,{one}\nBob,{two}\n',  # a quote never closed
        'name,phone\n"Jane" Doe,{one}\nBob,{two}\n',  # text after a closing quote
    ],
)
def test_csv_with_a_stray_quote_exits_2_naming_the_file_and_line(
    body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stray quote no longer merges the rows after it into one input: exit 2 naming the file
    and the line of the row it is in, and nothing is sent."""
    source = tmp_path / "people.csv"
    source.write_text(body.format(one=number(1), two=number(2)))
    out = tmp_path / "results.jsonl"
    code, _, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_USAGE
    _one_error_line(err, str(source), "line 2", "quote")
    assert not out.exists()


@pytest.mark.parametrize("column", [None, "cell 2"])
def test_csv_without_a_fitting_column_exits_2_listing_the_columns(
    column: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 13: no phone column (or not the one --column names): exit 2, columns listed."""
    source = tmp_path / "people.csv"
    source.write_text(f"name;contact;city\nJane;{number(1)};Cairo\n")
    out = tmp_path / "results.jsonl"
    args = [str(source), "--out", str(out), "--sandbox"]
    code, _, err = run_main(capsys, *args, *(["--column", column] if column else []))
    assert code == EXIT_USAGE
    _one_error_line(err, str(source), "'name', 'contact', 'city'", "--column")
    assert not out.exists()


def test_a_line_file_is_not_taken_for_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Numbers written with spaces or dashes stay line mode; a bad line is just invalid."""
    source = tmp_path / "numbers.txt"
    source.write_text(f"+20 100 000 0001\n+20-100-000-0002\nnot a number\n{number(3)}\n")
    out = tmp_path / "results.jsonl"
    code, stdout, err = run_main(capsys, str(source), "--out", str(out), "--sandbox")
    assert code == EXIT_API, err
    assert stdout.strip().endswith("sent 3, invalid 1")


def _peak_reading(path: Path) -> tuple[int, int]:
    """(numbers read, peak traced bytes) for reading ``path`` through ``numbers_from``."""

    async def read_all() -> int:
        count = 0
        async for _ in numbers_from(str(path), None):
            count += 1
            if count == 1:  # a slow consumer: the reader must not run ahead of it
                await asyncio.sleep(1.0)
        return count

    tracemalloc.start()
    try:
        count = asyncio.run(read_all())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_input_is_read_in_memory_flat_in_its_size(tmp_path: Path) -> None:
    """Item 11: reading 10 times more numbers does not take (anywhere near) 10 times the memory
    (line mode used to hold the whole input)."""
    peaks = []
    for count in (20_000, 200_000):
        source = tmp_path / f"numbers-{count}.txt"
        source.write_text("".join(f"+2010{i:08d}\n" for i in range(count)))
        read, peak = _peak_reading(source)
        assert read == count
        peaks.append(peak)
    assert peaks[1] < 2 * peaks[0], peaks
