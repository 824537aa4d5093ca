"""What a person does in the web client, as Playwright steps (shared by the browser tests)."""

from __future__ import annotations

import secrets
import struct
import zlib
from dataclasses import dataclass

from playwright.async_api import Locator, Page, expect


@dataclass
class Person:
    """Someone using the web client in their own browser context."""

    page: Page
    name: str
    email: str
    password: str


def new_identity(label: str) -> tuple[str, str, str]:
    """A unique display name, email and password for one test person."""
    tag = secrets.token_hex(3)
    return f"{label} {tag}", f"{label.lower()}-{tag}@example.test", f"pw-{secrets.token_hex(6)}"


async def register(page: Page, url: str, label: str) -> Person:
    """Open the client, create an account through the form, and wait for the room list."""
    name, email, password = new_identity(label)
    await page.goto(url)
    await page.get_by_role("tab", name="Create account").click()
    form = page.locator("#register-form")
    await form.get_by_label("Display name").fill(name)
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(password)
    await form.get_by_role("button", name="Create account").click()
    await expect(page.locator("#app-view")).to_be_visible()
    await expect(page.locator("#me-name")).to_have_text(name)
    return Person(page, name, email, password)


async def create_room(person: Person, title: str) -> None:
    page = person.page
    await page.get_by_role("button", name="New room").click()
    await page.get_by_label("Room name").fill(title)
    await page.locator("#room-dialog").get_by_role("button", name="Create").click()
    await expect(page.locator("#chat-title")).to_have_text(title)


async def open_members(person: Person) -> None:
    button = person.page.locator("#members-button")
    if await button.get_attribute("aria-expanded") != "true":
        await button.click()
    await expect(person.page.locator("#members-panel")).to_be_visible()


async def invite(person: Person, other: Person) -> None:
    """Add `other` to the open room through the members panel's directory search."""
    page = person.page
    await open_members(person)
    await page.get_by_label("Add people").fill(other.name)
    await page.get_by_role("button", name=f"Add {other.name}").click()
    await expect(page.locator("#member-list")).to_contain_text(other.name)


async def open_room(person: Person, title: str) -> None:
    page = person.page
    await page.locator("#room-list").get_by_role("button", name=title).first.click()
    await expect(page.locator("#chat-title")).to_have_text(title)


async def send(person: Person, text: str) -> None:
    page = person.page
    await page.get_by_label("Message", exact=True).fill(text)
    await page.get_by_label("Message", exact=True).press("Enter")


def message_in(page: Page, text: str) -> Locator:
    """The message bubble(s) on the page whose text contains `text`."""
    return page.locator("#message-list li.msg", has_text=text)


def png(width: int = 48, height: int = 48, rgb: tuple[int, int, int] = (79, 109, 245)) -> bytes:
    """A small valid PNG of one colour, for the avatar upload."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )
