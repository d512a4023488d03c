"""A seed gives the same request ids, transaction ids and codes from one release to the next:
tests written against a seeded sandbox may compare them."""

from __future__ import annotations

import uuid

from vlens_async.sandbox import Sandbox
from vlens_transports import Request

# What Sandbox(seed=7) answered before the sandbox's in-memory path was made cheaper.
SEEDED = [
    ("d23f0824-128b-4f33-8c5c-7fd0a6a3a450", "6513270e-269e-4d37-b2a7-4de452e6b438", "561913"),
    ("099950d8-36f6-45cc-81e7-4ef5e8e25d94", "0ed90475-9531-485d-9d9d-c9f81818e811", "090122"),
    ("0f21ddb6-6cad-4a26-8d11-6ece1738f7d9", "3d9c1724-11e2-4b8f-ab0d-549b6f03675a", "867017"),
]


async def test_a_seed_gives_the_ids_and_codes_it_gave_before() -> None:
    sandbox = Sandbox(seed=7, resend_cooldown=0)
    async with sandbox.client() as client:
        first = await client.registration.send_phone_otp("+201001234567")
        second = await client.registration.send_phone_otp("+201001234568")
        third = await client.registration.send_email_otp("mona@example.com")
    got = [
        (first.phone_number_otp_request_id, first.transaction_id, "+201001234567"),
        (second.phone_number_otp_request_id, second.transaction_id, "+201001234568"),
        (third.email_otp_request_id, third.transaction_id, "mona@example.com"),
    ]
    assert [
        (str(request_id), str(transaction), sandbox.outbox.last_otp(to))
        for request_id, transaction, to in got
    ] == SEEDED
    for request_id, transaction, _ in got:
        assert isinstance(request_id, uuid.UUID)
        assert isinstance(transaction, uuid.UUID)
        assert (request_id.version, transaction.version) == (4, 4)


# The same sandbox's raw answers to a phone and an e-mail code, byte for byte: every key of
# ApiOutputRegister in its order, null where not set.
PHONE_SENT = (
    b'{"data":{"isEmailConfirmationRequired":null,"isEmailConfirmed":null,'
    b'"isPhoneNumberConfirmationRequired":true,"isPhoneNumberConfirmed":false,'
    b'"phoneNumberOtp":null,"phoneNumberOtpRequestId":"d23f0824-128b-4f33-8c5c-7fd0a6a3a450",'
    b'"emailOtpRequestId":null,"phoneOtpExpireInSeconds":300,"emailOtpExpireInSeconds":null,'
    b'"isDigitalIdentityVerified":null,"accessToken":null,"encryptedAccessToken":null,'
    b'"expireInSeconds":null,"userName":null,"userFullName":null,'
    b'"transactionId":"6513270e-269e-4d37-b2a7-4de452e6b438","user":null},'
    b'"error_code":null,"error_message":null,"error_descriptions":null}'
)
EMAIL_SENT = (
    b'{"data":{"isEmailConfirmationRequired":true,"isEmailConfirmed":false,'
    b'"isPhoneNumberConfirmationRequired":null,"isPhoneNumberConfirmed":null,'
    b'"phoneNumberOtp":null,"phoneNumberOtpRequestId":null,'
    b'"emailOtpRequestId":"099950d8-36f6-45cc-81e7-4ef5e8e25d94","phoneOtpExpireInSeconds":null,'
    b'"emailOtpExpireInSeconds":300,"isDigitalIdentityVerified":null,"accessToken":null,'
    b'"encryptedAccessToken":null,"expireInSeconds":null,"userName":null,"userFullName":null,'
    b'"transactionId":"0ed90475-9531-485d-9d9d-c9f81818e811","user":null},'
    b'"error_code":null,"error_message":null,"error_descriptions":null}'
)


async def test_a_seed_gives_the_same_answers_byte_for_byte() -> None:
    sandbox = Sandbox(seed=7)
    headers = {"ApiKey": "sandbox-key", "Content-Type": "application/json"}
    base = "https://sandbox.vlens.test/api/DigitalIdentity/Register/"
    sent = [("StepVerifyPhone", b'{"phoneNumber":"+201001234567"}')]
    sent.append(("StepVerifyEmail", b'{"email":"mona@example.com"}'))
    answers = [
        await sandbox.handle(
            Request(method="POST", url=base + path, headers=headers, content=content)
        )
        for path, content in sent
    ]
    assert [(a.status, dict(a.headers), a.content) for a in answers] == [
        (200, {"content-type": "application/json; charset=utf-8"}, PHONE_SENT),
        (200, {"content-type": "application/json; charset=utf-8"}, EMAIL_SENT),
    ]
