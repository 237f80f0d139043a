import { describe, expect, it } from "vitest";
import { detectPii, ibanValid, luhnValid, redactPii, restorePii } from "./pii.js";

const types = (text: string) => detectPii(text).map((m) => [m.type, m.value]);

describe("detectPii", () => {
  it("finds emails", () => {
    expect(types("write to jane.doe+news@example.co.uk today")).toEqual([["email", "jane.doe+news@example.co.uk"]]);
  });

  it("finds phone numbers in international and North American formats", () => {
    expect(types("call +44 20 7946 0958 or (415) 555-2671 or +1-202-555-0143 or +33 1 23 45 67 89")).toEqual([
      ["phone", "+44 20 7946 0958"],
      ["phone", "(415) 555-2671"],
      ["phone", "+1-202-555-0143"],
      ["phone", "+33 1 23 45 67 89"],
    ]);
  });

  it("does not mistake dates, versions, amounts or years for phone numbers", () => {
    expect(detectPii("On 2024-03-15 version 1.2.3 cost 1234567 dollars in 2023; order 12/05/2024.")).toEqual([]);
  });

  it("accepts Luhn-valid card numbers only", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(types("card 4111 1111 1111 1111 and 4111-1111-1111-1112 and 3782 822463 10005")).toEqual([
      ["credit_card", "4111 1111 1111 1111"],
      ["credit_card", "3782 822463 10005"],
    ]);
  });

  it("accepts mod-97-valid IBANs only", () => {
    expect(ibanValid("GB82 WEST 1234 5698 7654 32")).toBe(true);
    expect(ibanValid("GB82 WEST 1234 5698 7654 33")).toBe(false);
    expect(ibanValid("DE89370400440532013000")).toBe(true);
    expect(types("pay GB82 WEST 1234 5698 7654 32 or DE89370400440532013000, not DE89370400440532013001")).toEqual([
      ["iban", "GB82 WEST 1234 5698 7654 32"],
      ["iban", "DE89370400440532013000"],
    ]);
  });

  it("finds US SSNs but not invalid area numbers", () => {
    expect(types("SSN 123-45-6789, not 000-12-3456 nor 666-12-3456")).toEqual([["us_ssn", "123-45-6789"]]);
  });

  it("finds IPv4 and IPv6 addresses and rejects out-of-range octets", () => {
    expect(types("hosts 192.168.1.20, 2001:db8::8a2e:370:7334 and 999.1.1.1")).toEqual([
      ["ip_address", "192.168.1.20"],
      ["ip_address", "2001:db8::8a2e:370:7334"],
    ]);
  });

  it("finds API-key-like secrets with their kind", () => {
    const text =
      "OPENAI_API_KEY=sk-proj-abcdEFGH1234ijklMNOP5678qrst and AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const found = detectPii(text).map((m) => m.subtype);
    expect(found).toEqual(["openai_key", "aws_access_key_id", "github_token", "aws_secret_access_key"]);
  });

  it("reports offsets that slice back to the value", () => {
    const text = "a@b.io, +49 30 901820, 4111111111111111";
    for (const m of detectPii(text)) expect(text.slice(m.start, m.end)).toBe(m.value);
  });

  it("filters by type", () => {
    expect(detectPii("a@b.io 123-45-6789", { types: ["us_ssn"] }).map((m) => m.type)).toEqual(["us_ssn"]);
  });
});

describe("redactPii", () => {
  const text = "Mail jane@example.com or jane@example.com, call +1 415 555 2671.";

  it("replaces with stable placeholders and restores the originals", () => {
    const r = redactPii(text, { mode: "placeholder" });
    expect(r.text).toBe("Mail <EMAIL_1> or <EMAIL_1>, call <PHONE_1>.");
    expect(restorePii(r.text, r.placeholders)).toBe(text);
  });

  it("masks in place, keeping length and separators", () => {
    const r = redactPii(text, { mode: "mask" });
    expect(r.text).toHaveLength(text.length);
    expect(r.text).toContain("****@*******.***");
    expect(r.text).not.toContain("jane");
  });

  it("rejects a bad mode with a clear error", () => {
    expect(() => redactPii(text, { mode: "shred" as never })).toThrow(/mode/);
  });
});
