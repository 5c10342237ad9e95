//! The `fix:` line under a FAIL: how to make that check pass in FastAPI, the lesson's
//! framework, in one line of code or a sentence around it. Keyed by the check's stable name
//! (the one `--json` prints), so a check and its fix cannot drift apart silently: a test runs
//! every FAIL the lesson's own app gets and asserts each one has a fix here.

/// Starlette's 405 lists the methods of the first route that matched the path only; one
/// function for all of a path's methods makes that list complete.
macro_rules! allow_fix {
    ($path:literal, $methods:literal) => {
        concat!(
            "Starlette's Allow lists one route's methods: serve them all from one function, ",
            "@app.api_route(\"",
            $path,
            "\", methods=[",
            $methods,
            "]), branching on request.method"
        )
    };
}

/// The FastAPI fix for a FAIL of the check named `name`, if there is one to give.
pub fn fastapi(name: &str) -> Option<&'static str> {
    let fix = match name {
        "start.empty" => {
            "@app.get(\"/tasks\") def list_tasks(): return list(tasks.values())  # a JSON array"
        }
        "start.healthz" => "@app.get(\"/healthz\") def healthz(): return {\"status\": \"ok\"}",
        "stage4.create" => "@app.post(\"/tasks\", status_code=201)",
        "stage4.body" => "return the stored task (a model with its id), not the request's body",
        "stage4.location" => {
            "return JSONResponse(task.model_dump(), status_code=201, \
             headers={\"Location\": f\"/tasks/{task.id}\"})"
        }
        "stage4.get" | "stage4.upload" => {
            "look the task up by its int id: task_id: int in the path, tasks[task_id]"
        }
        "stage4.get_missing"
        | "stage4.delete_missing"
        | "stage4.gone"
        | "stage4.upload_missing"
        | "exercise3.none" => {
            "raise HTTPException(status_code=404, detail=f\"Task {task_id} not found\")"
        }
        "stage4.delete" | "stage4.no_body" | "stage4.no_type" | "stage4.no_length" => {
            "return Response(status_code=204) rather than a JSONResponse or None (FastAPI turns \
             None into a JSON null with a Content-Type)"
        }
        "exercise1.conflict" => {
            "if any(t.title == task.title for t in tasks.values()): \
             raise HTTPException(status_code=409, detail=\"Task title already exists\")"
        }
        "exercise2.pdf" => {
            "if media_type not in {\"text/plain\", \"image/png\", \"image/jpeg\"}: \
             raise HTTPException(400, f\"Unsupported file type: {file.content_type}\")"
        }
        "exercise2.case" | "exercise2.untyped" => {
            "media_type = (file.content_type or \"text/plain\").split(\";\")[0].strip().lower(), \
             then compare media_type, not file.content_type"
        }
        "exercise3.download" | "download.tricky" | "upload.tricky" => {
            "store await file.read() as is and send it back unchanged: \
             return Response(content=data, media_type=stored_type)"
        }
        "exercise3.type" => "FileResponse(path, media_type=stored_type, filename=stored_name)",
        "exercise3.name" | "disposition.quotes" | "disposition.rfc8187" => {
            "return FileResponse(path, media_type=stored_type, filename=stored_name): Starlette \
             escapes quotes and writes filename*=utf-8''… for non-ASCII names"
        }
        "head.task" => {
            "@app.api_route(\"/tasks/{task_id}\", methods=[\"GET\", \"HEAD\"]): FastAPI's \
             @app.get does not answer HEAD"
        }
        "head.download" => {
            "@app.api_route(\"/tasks/{task_id}/attachment\", methods=[\"GET\", \"HEAD\"]): \
             FastAPI's @app.get does not answer HEAD"
        }
        "405.task" => allow_fix!("/tasks/{task_id}", "\"GET\", \"HEAD\", \"DELETE\""),
        "405.attachment" => {
            allow_fix!("/tasks/{task_id}/attachment", "\"GET\", \"HEAD\", \"POST\"")
        }
        "405.collection" => allow_fix!("/tasks", "\"GET\", \"POST\""),
        "upload.json" => {
            "take the file as file: UploadFile = File(...): FastAPI then refuses a body that is \
             not multipart/form-data with 422"
        }
        "422.empty_title" | "huge.title" | "422.long_title" => {
            "class TaskIn(BaseModel): title: str = Field(min_length=1, max_length=200)"
        }
        "422.priority" => "priority: Literal[\"low\", \"medium\", \"high\"] = \"medium\"",
        "422.missing_title" | "json.broken" | "json.text_plain" => {
            "declare the body as a model, def create_task(task: TaskIn): FastAPI then answers \
             422 for a body that is missing, not JSON or not labelled application/json"
        }
        "id.bad" => "declare the id as task_id: int: FastAPI answers 422 for /tasks/abc",
        "etag.task" | "etag.changed" => {
            "response.headers[\"ETag\"] = '\"' + hashlib.sha256(body).hexdigest()[:16] + '\"'"
        }
        "etag.304" | "etag.download_304" => {
            "if request.headers.get(\"if-none-match\") == etag: \
             return Response(status_code=304, headers={\"ETag\": etag})"
        }
        "etag.if_match" => {
            "if \"if-match\" in request.headers and request.headers[\"if-match\"] != etag: \
             raise HTTPException(412, \"Precondition Failed\")"
        }
        "range.single" | "range.multiple" | "range.unknown_unit" => {
            "return FileResponse(path, ...): Starlette answers Range with 206 for you"
        }
        "slash.get" | "slash.post" => {
            "keep FastAPI's redirect_slashes=True (the default) and declare routes without a \
             trailing /"
        }
        "options.task" | "options.collection" | "options.star" => {
            "add \"OPTIONS\" to @app.api_route(..., methods=[...]) and return \
             Response(status_code=204, headers={\"Allow\": \"GET, HEAD, DELETE, OPTIONS\"})"
        }
        _ => return None,
    };
    Some(fix)
}

#[cfg(test)]
mod tests {
    use super::fastapi;

    /// Every FAIL the lesson's app (`../shared/peers/fastapi`) got in the run recorded in
    /// docs/check.md; helper-side Python CI asserts the live run.
    const LESSON_FAILS: [&str; 11] = [
        "stage4.location",
        "stage4.no_type",
        "exercise2.case",
        "exercise2.untyped",
        "head.task",
        "head.download",
        "disposition.quotes",
        "disposition.rfc8187",
        "405.task",
        "405.attachment",
        "range.unknown_unit",
    ];

    #[test]
    fn every_fail_of_the_lessons_app_has_a_fix() {
        for name in LESSON_FAILS {
            assert!(fastapi(name).is_some(), "{name} has no fix line");
        }
        assert_eq!(fastapi("cleanup"), None);
    }
}
