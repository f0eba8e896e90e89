/**
 * A self-contained API reference page: it reads /openapi.json and lists every operation with its
 * request schema. No external scripts or fonts (the hub may run without internet access).
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>jobhub API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1f24}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
.op{border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.5rem .75rem}
.m{display:inline-block;min-width:4rem;font-weight:600;font-family:ui-monospace,monospace}
.p{font-family:ui-monospace,monospace} pre{background:#f6f8fa;padding:.5rem;overflow:auto;font-size:12px}
details summary{cursor:pointer}
</style></head><body>
<h1>jobhub native API</h1>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Errors: <code>{"error":{"code","message"}}</code>.</p>
<main id="ops">Loading…</main>
<script>
// Summaries mark code with backticks (Markdown code spans): shown as <code>, never as HTML.
function code(el,text){text.split('\\x60').forEach((part,i)=>{if(i%2){const c=document.createElement('code');c.textContent=part;el.append(c);}else el.append(part);});}
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths)) for(const [m,op] of Object.entries(ops)) (byTag[op.tags[0]]??=[]).push({path,m,op});
  const el=document.getElementById('ops'); el.textContent='';
  for(const [tag,list] of Object.entries(byTag)){
    const h=document.createElement('h2'); h.textContent=tag; el.append(h);
    for(const {path,m,op} of list){
      const d=document.createElement('details'); d.className='op';
      const s=document.createElement('summary');
      s.innerHTML='<span class="m"></span> <span class="p"></span> — <span class="d"></span>';
      s.querySelector('.m').textContent=m.toUpperCase(); s.querySelector('.p').textContent=path; code(s.querySelector('.d'),op.summary??'');
      d.append(s);
      const pre=document.createElement('pre');
      pre.textContent=JSON.stringify({parameters:op.parameters,requestBody:op.requestBody,responses:op.responses},null,2);
      d.append(pre); el.append(d);
    }
  }
}).catch(e=>{document.getElementById('ops').textContent='Could not load /openapi.json: '+e});
</script></body></html>`;
