"""mi.core.notifications and the PubSub's setting: Redis's notify-keyspace-events letters, read and
shown as Redis does (src/notify.c), and a keyspace that records nothing while they are off."""

from __future__ import annotations

import pytest

from mi.core.keyspace import Keyspace
from protocol.event_classes import GENERIC, STRING, flags_text, parse_flags
from mi.core.pubsub import PubSub
from protocol import CommandError


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("", ""),
        ("KEA", "AKE"),
        ("AKE", "AKE"),
        ("g$lshzxetdKE", "AKE"),  # A is exactly these classes
        ("$gEK", "g$KE"),  # Redis's order, whatever the order given
        ("Ex", "xE"),
        ("KEn", "nKE"),
        ("KEAn", "AKE"),  # as Redis: with A shown, n is not (it stays on)
        ("Km", "Km"),
        ("llKK", "lK"),
    ],
)
def test_flags_read_and_shown_as_redis_does(text, shown):
    assert flags_text(parse_flags(text)) == shown


@pytest.mark.parametrize("text", ["Q", "KEA ", "k", "*"])
def test_a_letter_that_names_no_class_is_redis_s_error(text):
    with pytest.raises(CommandError) as refused:
        parse_flags(text)
    assert (refused.value.prefix, refused.value.message) == ("ERR", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")


def test_writes_see_no_flags_unless_an_event_can_reach_a_channel():
    """notify_flags (what a write reads) stays 0 without K or E, or without a class."""
    pubsub = PubSub()
    for text, active in [("A", False), ("KE", False), ("K$", True), ("Eg", True), ("", False)]:
        pubsub.set_keyspace_events(text)
        assert bool(pubsub.notify_flags) is active, text


def test_a_refused_setting_keeps_the_one_before():
    pubsub = PubSub()
    pubsub.set_keyspace_events("Kg")
    with pytest.raises(CommandError):
        pubsub.set_keyspace_events("KgX")
    assert pubsub.keyspace_events == "gK"


def test_a_keyspace_records_only_the_classes_on():
    keyspace = Keyspace({}, None, 1, 0, "default", notify_flags=0)
    keyspace.notify(STRING, b"set", "default", b"k")
    assert keyspace.deadlines.events is None  # off: nothing recorded, not even a list
    keyspace = Keyspace({}, None, 1, 0, "default", notify_flags=GENERIC)
    keyspace.notify(STRING, b"set", "default", b"k")
    keyspace.notify(GENERIC, b"del", "default", b"k")
    assert keyspace.deadlines.events == [(b"del", "default", b"k")]
