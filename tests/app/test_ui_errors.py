from cadenza.errors import InputFileError
from cadenza.ui import error_line


def test_a_users_error_is_shown_as_it_is():
    assert error_line(InputFileError("song.mid", "truncated MIDI file")) == "song.mid: truncated MIDI file"


def test_a_bug_is_one_line_that_says_so_not_gradios_generic_message():
    line = error_line(IndexError("index out of range\n  in self"))
    assert line == (
        "cadenza failed on this request (IndexError: index out of range in self); "
        "the server's log has the details"
    )
