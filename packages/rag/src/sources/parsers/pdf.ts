import { ValidationError } from "@quintet/core";

/** Text of a PDF, page by page. */
export interface ExtractedPdf {
  title: string;
  pages: string[];
  /** Pages joined with blank lines. */
  text: string;
}

/**
 * Extracts the text layer of a PDF with unpdf (PDF.js). Scanned PDFs without a text layer yield no
 * text and are reported as such; a damaged or encrypted file is a ValidationError naming the file.
 */
export async function pdfToText(data: Uint8Array, options: { name?: string } = {}): Promise<ExtractedPdf> {
  const what = options.name ? `PDF ${options.name}` : "the PDF";
  const { extractText, getDocumentProxy, getMeta } = await import("unpdf");
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // PDF.js takes ownership of the buffer it is given; pass a copy so callers keep theirs.
    pdf = await getDocumentProxy(new Uint8Array(data), { verbosity: 0 });
  } catch (err) {
    throw new ValidationError(`cannot read ${what}: ${(err as Error).message}`, {
      hint: "The file is damaged, encrypted or not a PDF; re-export it or convert it to text first.",
      cause: err,
    });
  }
  try {
    const { text } = await extractText(pdf, { mergePages: false });
    const pages = text.map((p) => p.replace(/[ \t]+\n/g, "\n").trim());
    let title = "";
    try {
      const meta = await getMeta(pdf);
      title = typeof meta.info?.Title === "string" ? meta.info.Title.trim() : "";
    } catch {
      // Metadata is optional; the text is what matters.
    }
    const joined = pages.filter(Boolean).join("\n\n");
    if (!joined.trim()) {
      throw new ValidationError(`${what} has no text layer (${pages.length} page(s), all empty)`, {
        hint: "It is probably scanned; run OCR on it first.",
      });
    }
    return { title, pages, text: joined };
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(`cannot extract text from ${what}: ${(err as Error).message}`, {
      hint: "The file is damaged; re-export it or convert it to text first.",
      cause: err,
    });
  } finally {
    await pdf.destroy().catch(() => {});
  }
}
