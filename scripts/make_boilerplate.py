#!/usr/bin/env python3
"""Adds web boilerplate to a generated corpus, with ground truth.

usage: make_boilerplate.py IN.jsonl OUT.jsonl [--seed S] [--scale F]

IN is a corpus from ../shared/bench/make_corpus.py (JSONL, `id` + `text`). OUT gets the
same documents with six boilerplate passages inserted, each into a share of the
documents, with per-page variations (site names, dates, counters, phone numbers, one
line or item sometimes missing), placed where pages put them:

  passage     chars    share  where
  header      ~85      30%    first line
  nav         ~100     60%    after the first paragraph
  related     ~420     10%    at a paragraph break in the second half
  share       ~75      24%    after the last paragraph
  disclaimer  ~270      5%    after that
  footer      ~230      1%    last

(header, nav and share are shorter than neardup's default --min-block of 200.)
`--scale` multiplies every share (e.g. 0.5); `--only NAME --share F` inserts one passage
into a share F of the documents. OUT.boiler.jsonl holds the truth, one line
per inserted copy: {"id", "passage", "bytes": [start, end]} (UTF-8 byte offsets in the
document's text).
"""
import argparse
import json
import random

SITES = ["公文范文网", "第一范文网", "书业网", "瑞文网", "范文先生网", "办公资源网", "出国留学网",
         "应届毕业生网", "学习啦", "语文迷", "好范文网", "文档之家", "秘书工作网", "星期五文库"]
NAV = ["首页", "新闻中心", "通知公告", "政务公开", "领导讲话", "工作总结", "心得体会", "述职报告",
       "调研报告", "范文大全", "党建材料", "演讲稿", "实施方案", "应急预案", "规章制度", "会员中心"]
RELATED = [
    "2023年度市政府重点项目建设推进情况的调研报告",
    "关于进一步加强基层党组织建设工作的实施意见",
    "在全市优化营商环境工作推进会上的讲话提纲",
    "县委书记在乡村振兴工作现场观摩会上的总结讲话",
    "关于开展安全生产大检查专项行动的工作方案",
    "市长在全市经济运行分析调度会议上的讲话全文",
    "学习贯彻党的二十大精神专题研讨发言材料汇编",
    "某局上半年工作总结及下半年工作计划（范文）",
    "国有企业党委书记年度述职述廉述学报告范文",
]


def date(r):
    return f"{r.randint(2015, 2024)}年{r.randint(1, 12):02d}月{r.randint(1, 28):02d}日"


def header(r):
    return (f"{r.choice(SITES)}欢迎您！今天是{date(r)}，本站共收录各类文章{r.randint(10000, 99999)}篇。"
            "本站内容仅供学习交流，转载请注明出处并保留原文链接。")


def nav(r):
    items = list(NAV)
    if r.random() < 0.1:
        del items[r.randrange(len(items))]
    return " | ".join(items)


def related(r):
    titles = list(RELATED)
    if r.random() < 0.3:
        del titles[r.randrange(len(titles))]
    lines = ["相关文章推荐："] + [f"{i + 1}、{t}" for i, t in enumerate(titles)]
    lines.append(f"更多精彩内容请访问{r.choice(SITES)}专题栏目。")
    return "\n".join(lines)


def share(r):
    return (f"分享到：微信 朋友圈 新浪微博 QQ空间 豆瓣 百度贴吧 | 扫一扫在手机上打开当前页面，随时随地阅读 | "
            f"阅读：{r.randint(100, 99999)}次 | 点赞：{r.randint(0, 999)}")


def disclaimer(r):
    site = r.choice(SITES)
    return (f"免责声明：本文由{site}用户上传或网友投稿，仅代表作者个人观点，与本站立场无关。"
            "本站仅提供信息存储空间服务，不拥有所有权，不承担相关法律责任。"
            "文章中的观点、数据及引用内容的真实性、准确性和完整性未经本站证实，仅供读者参考，"
            "请读者自行核实相关内容。如发现本站文章存在版权问题，请在三十日内与我们联系，"
            f"我们将在收到通知后第一时间删除。投诉举报邮箱：jubao@{r.randint(100, 999)}mail.com，"
            f"更新时间：{date(r)}。")


def footer(r):
    site = r.choice(SITES)
    lines = [
        f"版权所有 © 2008-{r.randint(2019, 2024)} {site} 保留所有权利",
        f"地址：北京市朝阳区建国路{r.randint(1, 199)}号 联系电话：010-{r.randint(10000000, 99999999)}",
        "本站部分内容来自互联网，如有侵权请联系删除。未经书面授权，禁止复制或建立镜像。",
        f"京ICP备{r.randint(10000000, 99999999)}号 京公网安备{r.randint(10000000000, 99999999999)}号",
        "建议使用谷歌浏览器、火狐浏览器或360浏览器极速模式访问本站，最佳分辨率1920×1080。",
    ]
    if r.random() < 0.2:
        del lines[2]
    return "\n".join(lines)


PASSAGES = [("header", header, 0.30), ("nav", nav, 0.60), ("related", related, 0.10),
            ("share", share, 0.24), ("disclaimer", disclaimer, 0.05), ("footer", footer, 0.01)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--only", help="insert only this passage")
    ap.add_argument("--share", type=float, help="with --only: its share of the documents")
    a = ap.parse_args()
    passages = [(n, m, a.share if a.share is not None and a.only else s) for n, m, s in PASSAGES
                if not a.only or n == a.only]
    r = random.Random(a.seed)
    counts = {name: 0 for name, _, _ in PASSAGES}
    with open(a.inp, encoding="utf-8") as f, open(a.out, "w", encoding="utf-8") as out, \
            open(a.out + ".boiler.jsonl", "w", encoding="utf-8") as truth:
        for line in f:
            rec = json.loads(line)
            paras = rec["text"].split("\n")
            chosen = {name: make(r) for name, make, share in passages if r.random() < share * a.scale}
            # pieces in page order; each is (passage name or None, text)
            pieces = []
            if "header" in chosen:
                pieces.append(("header", chosen["header"]))
            mid = len(paras) // 2 + 1
            rel_at = r.randint(mid, max(mid, len(paras) - 1)) if "related" in chosen else -1
            for i, p in enumerate(paras):
                if i == rel_at:
                    pieces.append(("related", chosen["related"]))
                pieces.append((None, p))
                if i == 0 and "nav" in chosen:
                    pieces.append(("nav", chosen["nav"]))
            for name in ("share", "disclaimer", "footer"):
                if name in chosen:
                    pieces.append((name, chosen[name]))
            text, at = [], 0
            for name, p in pieces:
                if text:
                    text.append("\n")
                    at += 1
                b = p.encode("utf-8")
                if name:
                    truth.write(json.dumps({"id": rec["id"], "passage": name, "bytes": [at, at + len(b)]},
                                           ensure_ascii=False) + "\n")
                    counts[name] += 1
                text.append(p)
                at += len(b)
            rec["text"] = "".join(text)
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(json.dumps(counts, ensure_ascii=False))


if __name__ == "__main__":
    main()
