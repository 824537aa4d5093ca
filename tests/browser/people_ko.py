"""The steps of a person who uses the web client in Korean (labels as ko.json words them)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.ui import Person, new_identity


async def register_ko(page: Page, url: str, label: str) -> Person:
    """Create an account through the Korean sign-in screen."""
    name, email, password = new_identity(label)
    await page.goto(url)
    await page.get_by_role("tab", name="계정 만들기").click()
    form = page.locator("#register-form")
    await form.get_by_label("표시 이름").fill(name)
    await form.get_by_label("이메일").fill(email)
    await form.get_by_label("비밀번호").fill(password)
    await form.get_by_role("button", name="계정 만들기").click()
    await expect(page.locator("#app-view")).to_be_visible()
    await expect(page.locator("#me-name")).to_have_text(name)
    return Person(page, name, email, password)


async def create_room_ko(person: Person, title: str) -> None:
    page = person.page
    await page.get_by_role("button", name="새 방").click()
    await page.get_by_label("방 이름").fill(title)
    await page.locator("#room-dialog").get_by_role("button", name="만들기").click()
    await expect(page.locator("#chat-title")).to_have_text(title)


async def send_ko(person: Person, text: str) -> None:
    box = person.page.get_by_label("메시지", exact=True)
    await box.fill(text)
    await box.press("Enter")
