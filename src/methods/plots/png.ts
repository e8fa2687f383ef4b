import { FactlabError } from '../../tensor/errors.js';

/**
 * Renders SVG to PNG with resvg (a Rust renderer shipped as a prebuilt Node addon inside its npm package). It is
 * imported on first use, so that the library loads where the addon is absent (a browser); text uses the system's
 * fonts, DejaVu Sans where present.
 */
export async function svgToPng(svg: string, zoom = 2): Promise<Uint8Array> {
  let Resvg: typeof import('@resvg/resvg-js').Resvg;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch (e) {
    throw new FactlabError(`PNG output needs @resvg/resvg-js, which did not load here (${(e as Error).message}); the SVG files are written regardless`);
  }
  const r = new Resvg(svg, { fitTo: { mode: 'zoom', value: zoom }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return r.render().asPng();
}
